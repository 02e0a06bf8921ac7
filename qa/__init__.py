"""qa: answers made only of verified, cited quotes from a folder of documents."""

__version__ = "0.1.0"
