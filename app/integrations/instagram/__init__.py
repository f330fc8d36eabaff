"""Instagram (Instashop): the account's posts, its token, media downloads."""
