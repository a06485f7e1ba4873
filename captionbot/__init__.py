"""captionbot: image captions for chat communities, served by BLIP workers."""
