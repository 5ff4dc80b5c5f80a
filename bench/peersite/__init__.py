"""A minimal Django site for bench/peers.py: django-post_office, configured from the environment."""
