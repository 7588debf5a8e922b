//! An in-memory fake of the Heroku Platform API for tests and demos, checking requests against the official schema.
