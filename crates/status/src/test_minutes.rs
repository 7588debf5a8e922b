//! Stands in for a decision task in the tests: counts each minute's probes, closes the minute
//! with the quantities the board shows, hands the row to the store's writer and a copy to the
//! board, as the daemon's decision task does.

use store::{MinuteFigures, Persister, ProcessKey};

use crate::{Board, ProbeView};
use probe::Class;

pub(crate) struct Minutes {
    board: Board,
    index: usize,
    /// None: a board without a store.
    writer: Option<Persister>,
    key: ProcessKey,
    figures: MinuteFigures,
}

impl Minutes {
    pub(crate) fn new(board: &Board, index: usize, writer: &Persister) -> Minutes {
        let status = &board.snapshot()[index];
        Minutes {
            board: board.clone(),
            index,
            writer: Some(writer.clone()),
            key: ProcessKey::new(&status.app, &status.process),
            figures: MinuteFigures::default(),
        }
    }

    /// Minutes kept only on the board, with no store behind it.
    pub(crate) fn unkept(board: &Board, index: usize) -> Minutes {
        let status = &board.snapshot()[index];
        Minutes {
            board: board.clone(),
            index,
            writer: None,
            key: ProcessKey::new(&status.app, &status.process),
            figures: MinuteFigures::default(),
        }
    }

    /// A probe: closes the minute before if it starts a new one, then counts it.
    pub(crate) fn probe(&mut self, class: Class, view: ProbeView) {
        self.close(view.at);
        let latency = (class != Class::Down).then_some(view.latency.as_secs_f64() * 1000.0);
        self.figures
            .probe(latency, class == Class::Down, class == Class::Slow);
        self.board.record_probe(self.index, class, view);
    }

    /// Closes the minute under way when `at` is past it.
    pub(crate) fn close(&mut self, at: chrono::DateTime<chrono::Utc>) {
        let status = &self.board.snapshot()[self.index];
        if let Some(row) =
            self.figures
                .roll(at, &self.key, status.actual, status.target, status.baseline)
        {
            if let Some(writer) = &self.writer {
                writer.write_history(row.clone());
            }
            self.board.record_minute(self.index, row);
        }
    }
}
