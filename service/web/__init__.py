"""The web app and JSON API of `followup serve`: a thin shell over the service functions."""
