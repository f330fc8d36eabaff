"""Instashop: the brand's Instagram posts as shoppable looks (sync, media, staff edits, reads)."""
