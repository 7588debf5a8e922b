//! The resources and request bodies, shaped as the official schema's `app` and `formation`
//! definitions (only the fields a scaler needs are read; the rest are ignored).

use serde::{Deserialize, Serialize, Serializer};

/// An app, as `GET /apps/{app}` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct App {
    /// Unique identifier (a UUID).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Whether maintenance mode is on.
    pub maintenance: bool,
    /// The app's `herokuapp.com` URL, if it has one.
    #[serde(default)]
    pub web_url: Option<String>,
}

/// The app a formation belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AppRef {
    /// Unique identifier of the app.
    pub id: String,
    /// Name of the app.
    pub name: String,
}

/// A dyno size as a formation reports it: its identity, as an [`AppRef`] is an app's (the sizes and
/// their prices are [`DynoSize`](crate::DynoSize)).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DynoSizeRef {
    /// Unique identifier of the size.
    #[serde(default)]
    pub id: Option<String>,
    /// Name of the size, e.g. `standard-1X`.
    #[serde(default)]
    pub name: Option<String>,
}

/// One process type of an app and how many dynos run it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Formation {
    /// Unique identifier of this process type.
    pub id: String,
    /// The app it belongs to.
    pub app: AppRef,
    /// The process type, e.g. `web` (`type` in the API).
    #[serde(rename = "type")]
    pub process_type: String,
    /// Number of dynos to maintain.
    pub quantity: u32,
    /// The dyno size.
    #[serde(default)]
    pub dyno_size: Option<DynoSizeRef>,
    /// The command the dynos run.
    #[serde(default)]
    pub command: Option<String>,
    /// When the process type was created (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// When the process type was last updated (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// The body of [`Client::formation_update`](crate::Client::formation_update): what to change; `None`
/// leaves it as is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FormationUpdate {
    /// The number of dynos to run (a set, never an increment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// The dyno size name, e.g. `standard-2X` (sent as `{"name": ...}`; the deprecated `size` is
    /// never sent).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "dyno_size_by_name"
    )]
    pub dyno_size: Option<String>,
}

/// One item of [`Client::formation_batch_update`](crate::Client::formation_batch_update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchUpdate {
    /// The process type (or its id) to change (`type` in the API).
    #[serde(rename = "type")]
    pub process_type: String,
    /// The number of dynos to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// The dyno size name (sent as `{"name": ...}`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "dyno_size_by_name"
    )]
    pub dyno_size: Option<String>,
}

/// The Batch Update request body.
#[derive(Debug, Serialize)]
pub(crate) struct BatchBody<'a> {
    pub(crate) updates: &'a [BatchUpdate],
}

/// The schema makes `dyno_size` an object identified by `id` or `name`, not a bare string.
fn dyno_size_by_name<S: Serializer>(
    size: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct ByName<'a> {
        name: &'a str,
    }
    match size {
        Some(name) => ByName { name }.serialize(serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn updates_send_only_what_is_set_and_dyno_size_by_name() {
        let quantity = FormationUpdate {
            quantity: Some(3),
            ..FormationUpdate::default()
        };
        assert_eq!(
            serde_json::to_value(&quantity).unwrap(),
            json!({"quantity": 3})
        );
        let both = FormationUpdate {
            quantity: Some(0),
            dyno_size: Some("standard-2X".to_owned()),
        };
        assert_eq!(
            serde_json::to_value(&both).unwrap(),
            json!({"quantity": 0, "dyno_size": {"name": "standard-2X"}})
        );
        let batch = [BatchUpdate {
            process_type: "web".to_owned(),
            quantity: None,
            dyno_size: None,
        }];
        assert_eq!(
            serde_json::to_value(BatchBody { updates: &batch }).unwrap(),
            json!({"updates": [{"type": "web"}]})
        );
    }
}
