"""Errors that decide a campaign's fate rather than the daemon's."""


class CampaignError(Exception):
    """A campaign row cannot be sent as it is: names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__("%s: %s" % (field, reason))
        self.field = field
        self.reason = reason
