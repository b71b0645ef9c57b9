"""The admin API: what operators call with the master key."""
