"""Text cells of the CSV files captionbot writes, safe to open in a spreadsheet. A cell that starts with `=`, `+`,
`-`, `@`, a tab or a carriage return is read there as a formula, and a suggested caption or a file name is
anyone's text; so, as OWASP advises ("CSV Injection", owasp.org/www-community/attacks/CSV_Injection), such a
cell is written with a single quote before it (the csv module quotes the rest). Spreadsheets show the quote as
nothing; `read_cell` takes it off again where captionbot reads its own files back (`captionbot train`)."""

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def written_cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def read_cell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text
