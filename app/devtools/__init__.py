"""Developer tools: demo data and other helpers that never run against a real shop."""
