"""The daily trending digest: fetch Hugging Face daily papers, post each channel's digest once."""
