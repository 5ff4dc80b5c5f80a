"""Setting up: `followup init`'s questions, provider presets, and the settings file it writes."""
