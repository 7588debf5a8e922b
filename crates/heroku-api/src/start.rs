//! One read of an app and one of its process types, classified for a process starting up.

use crate::{Client, Error};

/// What Heroku says about an app and one of its process types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppSnapshot {
    /// Whether the app is in maintenance mode.
    pub maintenance: bool,
    /// How many dynos the process type runs.
    pub quantity: u32,
}

/// Why [`Client::snapshot`] failed: final at start (the key, the app or the process type is
/// wrong), or [`SnapshotError::Transient`] and worth another attempt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The API key was refused (401, or 403 for a key that is not allowed).
    #[error("Heroku rejected the API key for app \"{app}\": {source}")]
    CredentialsRejected {
        /// The app asked about.
        app: String,
        /// Heroku's answer.
        source: Error,
    },
    /// No such app, or one the key cannot see.
    #[error("app \"{app}\" was not found on Heroku (or the API key cannot see it): {source}")]
    AppNotFound {
        /// The app asked about.
        app: String,
        /// Heroku's answer.
        source: Error,
    },
    /// The app has no such process type (a typo in the config, or a type removed from the
    /// Procfile).
    #[error(
        "app \"{app}\" has no process type \"{process}\" ({}); check the process type in the config and the app's Procfile: {source}",
        present_types(present)
    )]
    ProcessNotFound {
        /// The app asked about.
        app: String,
        /// The process type asked about.
        process: String,
        /// The process types the app's formation has, when they could be read.
        present: Option<Vec<String>>,
        /// Heroku's answer.
        source: Error,
    },
    /// Anything else: the network, a timeout, a server error.
    #[error(transparent)]
    Transient(Error),
}

impl SnapshotError {
    /// Whether trying again cannot help.
    pub fn is_final(&self) -> bool {
        !matches!(self, SnapshotError::Transient(_))
    }

    fn classify(error: Error, app: &str, process: Option<&str>) -> SnapshotError {
        let app = app.to_owned();
        if error.is_credentials_rejected() {
            return SnapshotError::CredentialsRejected { app, source: error };
        }
        if !matches!(error, Error::NotFound { .. }) {
            return SnapshotError::Transient(error);
        }
        match process {
            None => SnapshotError::AppNotFound { app, source: error },
            Some(process) => SnapshotError::ProcessNotFound {
                app,
                process: process.to_owned(),
                present: None,
                source: error,
            },
        }
    }
}

/// The process types of a formation, in words.
fn present_types(present: &Option<Vec<String>>) -> String {
    match present.as_deref() {
        None => "its formation could not be read".to_owned(),
        Some([]) => "its formation has no process type at all".to_owned(),
        Some(types) => format!("its formation has: {}", types.join(", ")),
    }
}

impl Client {
    /// One attempt at the app's maintenance flag and the process type's quantity (two reads, each
    /// retried as every call is); the caller decides whether to try again.
    pub async fn snapshot(&self, app: &str, process: &str) -> Result<AppSnapshot, SnapshotError> {
        let info = self
            .app_info(app)
            .await
            .map_err(|e| SnapshotError::classify(e, app, None))?;
        let formation = match self.formation_info(app, process).await {
            Ok(formation) => formation,
            Err(error) => {
                let mut error = SnapshotError::classify(error, app, Some(process));
                // Naming what is there turns "not found" into the typo or the Procfile to fix.
                if let SnapshotError::ProcessNotFound { present, .. } = &mut error {
                    *present = self
                        .formation_list(app)
                        .await
                        .ok()
                        .map(|list| list.into_iter().map(|f| f.process_type).collect());
                }
                return Err(error);
            }
        };
        Ok(AppSnapshot {
            maintenance: info.maintenance,
            quantity: formation.quantity,
        })
    }
}
