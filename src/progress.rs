//! Progress of long admin work: a bar on a terminal, plain lines otherwise
//! (logs, CI, pipes), never both.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Time between plain progress lines.
const LINE_INTERVAL: Duration = Duration::from_secs(2);

pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl Progress {
    pub fn new(label: &str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            let bar = ProgressBar::new(total).with_style(style);
            bar.set_message(label.to_owned());
            bar
        });
        Progress { label: label.to_owned(), total, done: 0, bar, last_line: Instant::now() }
    }

    pub fn inc(&mut self, n: u64) {
        self.done += n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            None => {
                if self.last_line.elapsed() >= LINE_INTERVAL {
                    eprintln!("{}: {}/{}", self.label, self.done, self.total);
                    self.last_line = Instant::now();
                }
            }
        }
    }

    /// Grows the expected total (when work is discovered as it goes).
    pub fn add_total(&mut self, n: u64) {
        self.total += n;
        if let Some(bar) = &self.bar {
            bar.inc_length(n);
        }
    }

    pub fn finish(self) {
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => eprintln!("{}: {}/{} done", self.label, self.done, self.total),
        }
    }
}
