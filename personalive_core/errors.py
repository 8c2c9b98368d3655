"""Exceptions with messages that tell the user what went wrong and what to do."""


class PersonaLiveError(Exception):
    """Base class of every error this package raises on purpose."""


class WeightsError(PersonaLiveError):
    """A weights file is missing, unreadable, unsafe or does not fit the model."""


class InputError(PersonaLiveError, ValueError):
    """An image, video or parameter given by the user cannot be used."""


class OutputError(PersonaLiveError, OSError):
    """Writing a result failed (a full disk, for example); the message says what is kept."""


class FaceMeshUnavailable(PersonaLiveError):
    """MediaPipe's face mesh (legacy solution or Tasks face landmarker) cannot be used here."""
