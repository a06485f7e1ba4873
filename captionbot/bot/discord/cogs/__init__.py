"""One cog per feature: posted images (`auto_caption`), the caption commands and context menu
(`caption_commands`), and the admin commands (`admin`)."""
