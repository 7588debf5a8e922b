//! Extracts from the vendored Heroku schema the definitions the fake needs (`app`, `formation` and every
//! definition they reference), so the library embeds a few kilobytes instead of the whole document.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value};

const SCHEMA: &str = "schema/heroku-platform-api.schema.json";
const ROOTS: [&str; 2] = ["app", "formation"];

/// A build script that fails says why: cargo prints the error it returns.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed={SCHEMA}");
    let text = std::fs::read_to_string(SCHEMA).unwrap_or_else(|e| panic!("reading {SCHEMA}: {e}"));
    let schema: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {SCHEMA}: {e}"));
    let Some(definitions) = schema.get("definitions").and_then(Value::as_object) else {
        panic!("{SCHEMA} has no top-level definitions");
    };

    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<String> = ROOTS.iter().map(|s| (*s).to_owned()).collect();
    while let Some(name) = queue.pop() {
        if !wanted.insert(name.clone()) {
            continue;
        }
        // The official file has a few dangling references (e.g. `dyno_size` inside the formation's
        // `identity` annotation, which no validator follows): skip them.
        let Some(definition) = definitions.get(&name) else {
            continue;
        };
        let mut refs = Vec::new();
        collect_refs(definition, &mut refs);
        queue.extend(refs.into_iter().filter(|r| !wanted.contains(r)));
    }

    let subset: Map<String, Value> = wanted
        .iter()
        .filter_map(|name| definitions.get(name).map(|d| (name.clone(), d.clone())))
        .collect();
    let out = Path::new(&std::env::var("OUT_DIR")?).join("definitions.json");
    let json = serde_json::to_string(&Value::Object(subset))?;
    std::fs::write(&out, json).map_err(|e| format!("writing {}: {e}", out.display()))?;
    Ok(())
}

/// Top-level definition names referenced anywhere under `value` (`#/definitions/<name>/...`).
fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    if let Some(name) = child
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/definitions/"))
                        .and_then(|rest| rest.split('/').next())
                    {
                        refs.push(name.to_owned());
                    }
                } else {
                    collect_refs(child, refs);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}
