"""Why a registry could not give a version: its files do not match their manifest, or the store cannot be
reached. The messages are sentences an operator acts on; they never carry credentials."""


class RegistryError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VersionCorrupt(RegistryError):
    """A file of a version differs from what its manifest records."""


class RegistryUnavailable(RegistryError):
    """The store did not answer, or refused the request (credentials, permissions, bucket)."""
