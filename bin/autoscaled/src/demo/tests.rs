use super::*;

#[test]
fn the_demo_config_is_valid() {
    let config = demo_config(
        "http://127.0.0.1:1",
        "127.0.0.1:2".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    );
    assert!(config.is_ok(), "{config:?}");
}
