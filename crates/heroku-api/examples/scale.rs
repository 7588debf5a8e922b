//! Scales one process type of one app: `HEROKU_API_KEY=... cargo run -p autoscaled-heroku-api --example scale --
//! my-app web 2` (`HEROKU_API_URL` points it elsewhere, at a fake say).

use autoscaled_heroku_api::{Client, DEFAULT_BASE_URL, FormationUpdate};
use secret::Secret;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: scale APP PROCESS_TYPE QUANTITY (with HEROKU_API_KEY set)";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [app, process_type, quantity] = args.as_slice() else {
        return Err(usage.into());
    };
    let quantity: u32 = quantity
        .parse()
        .map_err(|_| format!("{usage}: QUANTITY must be a whole number"))?;
    let token = Secret::new(std::env::var("HEROKU_API_KEY").map_err(|_| usage)?);
    let base_url = std::env::var("HEROKU_API_URL").unwrap_or_else(|_| DEFAULT_BASE_URL.to_owned());

    let client = Client::builder(token).base_url(base_url).build()?;
    let update = FormationUpdate {
        quantity: Some(quantity),
        dyno_size: None,
    };
    let formation = client.formation_update(app, process_type, &update).await?;
    println!(
        "{} {}: {} dyno(s); API calls left: {}",
        formation.app.name,
        formation.process_type,
        formation.quantity,
        client
            .rate_limit_remaining()
            .map_or_else(|| "unknown".to_owned(), |n| n.to_string())
    );
    Ok(())
}
