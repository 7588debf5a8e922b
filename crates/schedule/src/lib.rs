//! Crontab rules in a time zone: the baseline dyno quantity at any instant, its coming changes, dyno-hours and cost.
