//! Request bodies checked before the fake acts on them.
//!
//! With the `contract` feature (the default, and what tests use), each body is validated against its
//! link's schema in the official Heroku document: the `app` and `formation` definitions extracted by
//! `build.rs`, compiled once per process. Without it (the `autoscaled` binary embeds the fake only
//! for its demo, and need not carry a JSON Schema engine), typed parsing refuses bodies of the wrong
//! shape: unknown fields, a string or fractional quantity, a `dyno_size` that is not an object.

#[cfg(feature = "contract")]
pub(crate) use contract::{check, ready};
#[cfg(not(feature = "contract"))]
pub(crate) use shape::{check, ready};

/// The formation links whose request bodies the fake checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// `PATCH /apps/{app}/formation/{type}` ("Update").
    Update,
    /// `PATCH /apps/{app}/formation` ("Batch Update").
    BatchUpdate,
}

/// The first reason a body is refused, in a sentence fit for an `invalid_params` message.
fn invalid(at: &str, reason: impl std::fmt::Display) -> String {
    if at.is_empty() {
        format!("Invalid params: {reason}")
    } else {
        format!("Invalid params at {at}: {reason}")
    }
}

#[cfg(feature = "contract")]
mod contract {
    use std::sync::OnceLock;

    use jsonschema::Validator;
    use serde_json::{Map, Value, json};

    use super::{Link, invalid};
    use crate::Error;

    /// The `app` and `formation` definitions of the vendored schema, with everything they reference.
    pub(super) const DEFINITIONS: &str =
        include_str!(concat!(env!("OUT_DIR"), "/definitions.json"));
    const DRAFT_04: &str = "http://json-schema.org/draft-04/schema#";

    /// The request-body schemas of the formation links the fake serves.
    #[derive(Debug)]
    struct Validators {
        formation_update: Validator,
        formation_batch_update: Validator,
    }

    fn validators() -> Result<&'static Validators, Error> {
        static VALIDATORS: OnceLock<Result<Validators, String>> = OnceLock::new();
        VALIDATORS
            .get_or_init(|| {
                let definitions: Map<String, Value> =
                    serde_json::from_str(DEFINITIONS).map_err(|e| e.to_string())?;
                Ok(Validators {
                    formation_update: link_validator(&definitions, "formation", "Update")?,
                    formation_batch_update: link_validator(
                        &definitions,
                        "formation",
                        "Batch Update",
                    )?,
                })
            })
            .as_ref()
            .map_err(|e| Error::Schema(e.clone()))
    }

    /// Compiles the validators now, so a broken schema fails [`crate::Builder::start`], not a request.
    pub(crate) fn ready() -> Result<(), Error> {
        validators().map(drop)
    }

    /// Why `body` breaks `link`'s request schema, if it does.
    pub(crate) fn check(link: Link, body: &Value) -> Option<String> {
        let validators = match validators() {
            Ok(validators) => validators,
            Err(e) => return Some(e.to_string()),
        };
        let validator = match link {
            Link::Update => &validators.formation_update,
            Link::BatchUpdate => &validators.formation_batch_update,
        };
        violation(validator, body)
    }

    /// Compiles `schema` as draft-04 with the root `definitions` in scope, which is how one piece of an
    /// interagent hyper-schema can be checked by a plain JSON Schema validator.
    pub(super) fn compile(
        definitions: &Map<String, Value>,
        schema: &Value,
    ) -> Result<Validator, String> {
        let mut schema = schema.clone();
        let Some(map) = schema.as_object_mut() else {
            return Err("a link schema is not an object".to_owned());
        };
        map.insert("$schema".to_owned(), json!(DRAFT_04));
        map.insert("definitions".to_owned(), Value::Object(definitions.clone()));
        jsonschema::draft4::new(&schema).map_err(|e| e.to_string())
    }

    fn link_validator(
        definitions: &Map<String, Value>,
        resource: &str,
        title: &str,
    ) -> Result<Validator, String> {
        let link = definitions
            .get(resource)
            .and_then(|r| r.get("links"))
            .and_then(Value::as_array)
            .and_then(|links| {
                links
                    .iter()
                    .find(|l| l.get("title").and_then(Value::as_str) == Some(title))
            })
            .ok_or_else(|| format!("no {resource} link titled {title:?}"))?;
        let schema = link
            .get("schema")
            .ok_or_else(|| format!("the {resource} {title:?} link has no request schema"))?;
        compile(definitions, schema)
    }

    fn violation(validator: &Validator, instance: &Value) -> Option<String> {
        validator
            .iter_errors(instance)
            .next()
            .map(|error| invalid(&error.instance_path().to_string(), error))
    }
}

#[cfg(not(feature = "contract"))]
mod shape {
    #[cfg(test)]
    mod tests {
        use serde_json::json;

        use super::super::Link;
        use super::check;

        #[test]
        fn refuses_bodies_of_the_wrong_shape() {
            assert_eq!(check(Link::Update, &json!({"quantity": 2})), None);
            let batch = json!({"updates": [{"type": "web", "quantity": 3, "dyno_size": {"name": "basic"}}]});
            assert_eq!(check(Link::BatchUpdate, &batch), None);
            for body in [
                json!({"quantity": "2"}),
                json!({"quantity": 1.5}),
                json!({"dyno_size": "standard-2X"}),
            ] {
                assert!(check(Link::Update, &body).is_some(), "{body}");
            }
            for body in [
                json!({"updates": [{"type": "web", "size": "standard-1X"}]}),
                json!({"updates": [{"quantity": 2}]}),
                json!({"changes": []}),
            ] {
                assert!(check(Link::BatchUpdate, &body).is_some(), "{body}");
            }
        }
    }

    use serde::Deserialize;
    use serde_json::Value;

    use super::{Link, invalid};
    use crate::Error;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Update {
        #[serde(rename = "quantity")]
        _quantity: Option<i64>,
        #[serde(rename = "dyno_size")]
        _dyno_size: Option<DynoSize>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DynoSize {
        #[serde(rename = "id")]
        _id: Option<String>,
        #[serde(rename = "name")]
        _name: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        #[serde(rename = "updates")]
        _updates: Vec<BatchItem>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct BatchItem {
        #[serde(rename = "type")]
        _process_type: String,
        #[serde(rename = "quantity")]
        _quantity: Option<i64>,
        #[serde(rename = "dyno_size")]
        _dyno_size: Option<DynoSize>,
    }

    /// Nothing to prepare without the contract.
    pub(crate) fn ready() -> Result<(), Error> {
        Ok(())
    }

    /// Why `body` has the wrong shape for `link`, if it does.
    pub(crate) fn check(link: Link, body: &Value) -> Option<String> {
        let parsed = match link {
            Link::Update => Update::deserialize(body).map(drop),
            Link::BatchUpdate => Batch::deserialize(body).map(drop),
        };
        parsed.err().map(|e| invalid("", e))
    }
}

#[cfg(test)]
#[cfg(feature = "contract")]
mod tests {
    use super::contract::{DEFINITIONS, compile};
    use super::*;
    use crate::state::State;
    use jsonschema::Validator;
    use serde_json::{Map, Value, json};

    fn definition_validator(name: &str) -> Validator {
        let definitions: Map<String, Value> = serde_json::from_str(DEFINITIONS).unwrap();
        compile(
            &definitions,
            &json!({"$ref": format!("#/definitions/{name}")}),
        )
        .unwrap()
    }

    #[test]
    fn the_update_schemas_accept_what_heroku_documents() {
        for body in [
            json!({"quantity": 2}),
            json!({"dyno_size": {"name": "standard-2X"}}),
            json!({"quantity": 0, "dyno_size": {"id": "01234567-89ab-cdef-0123-456789abcdef"}}),
        ] {
            assert_eq!(check(Link::Update, &body), None, "{body}");
        }
        let batch = json!({"updates": [{"type": "web", "quantity": 3}, {"type": "worker", "dyno_size": {"name": "basic"}}]});
        assert_eq!(check(Link::BatchUpdate, &batch), None);
    }

    #[test]
    fn the_update_schemas_refuse_what_heroku_does_not_allow() {
        for body in [
            json!({"quantity": "2"}),
            json!({"quantity": 1.5}),
            json!({"dyno_size": "standard-2X"}),
        ] {
            assert!(check(Link::Update, &body).is_some(), "{body}");
        }
        for body in [
            json!({"updates": [{"type": "web", "size": "standard-1X"}]}),
            json!({"updates": [{"type": "web", "quantity": "2"}]}),
            json!({"updates": [{"type": "web", "colour": "blue"}]}),
            json!({"updates": [{"quantity": 2}]}),
            json!({"updates": [{"type": "no spaces", "quantity": 2}]}),
            json!({"changes": []}),
        ] {
            assert!(check(Link::BatchUpdate, &body).is_some(), "{body}");
        }
        let message = check(
            Link::BatchUpdate,
            &json!({"updates": [{"type": "web", "size": "x"}]}),
        );
        assert!(
            message.as_deref().is_some_and(|m| m.contains("/updates/0")),
            "{message:?}"
        );
    }

    #[test]
    fn what_the_fake_answers_fits_the_app_and_formation_definitions() {
        let app_schema = definition_validator("app");
        let formation_schema = definition_validator("formation");
        let mut state = State::new(10, 75);
        // Names outside Heroku's own pattern are served as given, and fail `app.name` by definition.
        for name in ["my-app", "a1b"] {
            state.set_quantity(name, "web", 2);
            state.set_quantity(name, "worker-2", 0);
            let app = state.app(name).unwrap();
            let json = app.to_json();
            assert!(
                app_schema.is_valid(&json),
                "{:?}",
                app_schema.iter_errors(&json).next()
            );
            for formation in &app.formations {
                let json = app.formation_json(formation);
                assert!(
                    formation_schema.is_valid(&json),
                    "{:?}",
                    formation_schema.iter_errors(&json).next()
                );
            }
        }
        // The check has teeth: a formation with a string quantity is refused.
        let mut wrong = state
            .app("my-app")
            .map(|a| a.formation_json(&a.formations[0]))
            .unwrap();
        wrong["quantity"] = json!("2");
        assert!(!formation_schema.is_valid(&wrong));
    }
}
