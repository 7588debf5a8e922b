//! A typed client for the Heroku Platform API v3: formations and apps, with retries and rate-limit awareness.
