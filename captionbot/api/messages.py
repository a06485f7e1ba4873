"""Every sentence the API and its page say that the core's typed errors do not already say."""

from captionbot.core.errors import ACCEPTED_IMAGES
from captionbot.core.images import human_size

KEY_MISSING = (
    "This request needs an API key: send it as `Authorization: Bearer KEY`; an operator makes one with "
    "`captionbot api-key create NAME`."
)
KEY_NOT_BEARER = (
    "The Authorization header must read `Bearer KEY`: the word Bearer, a space, then the key."
)
KEY_INVALID = "That API key is not valid (mistyped or revoked); ask the operator for a new one."
IMAGE_MISSING = (
    f"Send the image as a multipart file field named `image`, or as the request body; a {ACCEPTED_IMAGES} file."
)
JSON_BODY = (
    "This address takes an image, not JSON: send the image file itself as the request body, or as a multipart "
    f"file field named `image`; a {ACCEPTED_IMAGES} file."
)
NOT_FOUND = "There is nothing at this address; see /docs for the API."
METHOD_NOT_ALLOWED = "This address does not take that method; see /docs for the API."
BAD_MULTIPART = "The multipart body could not be read ({reason}); send the image as a file field named `image`."
UNKNOWN_OPTION = "There is no option '{name}'; the options are {names}."
BAD_MODEL = "model must be finetuned or pretrained."
BAD_FLAG = "{name} must be true or false."
BAD_NUMBER = "{name} must be {kind} from {low} to {high}; '{value}' is not."
MODEL_WITH_COMPARE = (
    "Send model or compare=true, not both: a compare captions with both models, so model would be ignored."
)
CLIENT_GONE = "The connection closed before the whole image arrived; send it again."
TOO_MANY_UPLOADS = "This key already has {uploads} on the way; wait for one to be answered, then send the next."
REGISTRY_UNREACHABLE = (
    "The model registry cannot be reached right now, so its versions cannot be listed; try again in a minute."
)
NO_SUCH_SAMPLE = "There is no sample photo called '{name}'; GET /v1/samples lists them."

# Options a request sent that its mode does not use: named in the answer's `options.ignored`, never dropped silently.
BEAMS_IN_COMPARE = "a compare decodes each model with the beams it was made for, so both are judged fairly"
BEAMS_IN_VARIATIONS = "variations are sampled, not found by beam search"
TEMPERATURE_IN_SINGLE = "only variations are sampled; beam search has no temperature"


def too_large_unmeasured(max_bytes: int) -> str:
    """For a body sent without Content-Length: its size is known only to be past the limit."""
    return f"That file is over the {human_size(max_bytes)} limit; send a smaller image."
