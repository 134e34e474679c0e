//! `tools/train --jobs N`: one machine's attribution run as N processes, each a shard
//! (`--shard i/N`) with N-th of the cores, then one summary and one gallery for the whole split.
//!
//! Why processes: on a few cores, a small model's per-sample pipeline is a stream of small
//! operations, and every one that libtorch spreads over its threads hands work over and waits for
//! it (InputIBA's WGAN on 2 cores: ≈ 14% of the run in OpenMP threads waking and waiting). N
//! single-threaded processes on N cores never wait on each other; threads in one process would
//! share libtorch's global random generator, which ibex seeds per draw (`Streams`), and so lose
//! the per-sample determinism that processes keep: each sample's maps are the same whichever job
//! attributes it, and the same as with `--jobs 1` up to the rounding of another thread count.
//!
//! What the whole split shares (the estimator, a trained explainer) is fitted here first, with all
//! the cores, and cached in the work dir; the jobs find it there instead of racing to make it.
use super::attribute::{summary_file, whole_run_lock};
use super::{Run, Shard, Summary};
use crate::error::{Error, Result};
use crate::output::WorkDir;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a job is started: the tool and its arguments, `--shard i/N` left to [`Run::attribute_in_jobs`].
pub struct JobCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// Threads for each of `jobs` processes on this machine's cores (at least one).
pub fn threads_per_job(jobs: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / jobs.max(1)).max(1)
}

fn read_summary(path: &Path) -> Result<Summary> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::file(path, format!("not a run summary: {e}")))
}

impl Summary {
    /// The summaries of disjoint shards as one.
    fn merge(parts: Vec<Summary>) -> Summary {
        parts.into_iter().fold(Summary::default(), |mut all, s| {
            all.attributed += s.attributed;
            all.skipped += s.skipped;
            all.failed.extend(s.failed);
            all.degenerate.extend(s.degenerate);
            all
        })
    }
}

impl Run {
    /// The attribution run into `wd` as `jobs` processes of `job` (each given `--shard i/jobs`
    /// and [`threads_per_job`] threads), then the gallery of all their outputs and `summary.json`.
    /// Holds the work dir's attribution lock throughout, as an unsharded run does.
    pub fn attribute_in_jobs(&self, wd: &WorkDir, jobs: usize, job: &JobCommand) -> Result<Summary> {
        if jobs == 0 {
            return Err(Error::Jobs("need at least 1".into()));
        }
        let _whole = whole_run_lock(wd)?;
        let data = self.fitted(wd)?.data;
        let threads = threads_per_job(jobs).to_string();
        // a summary left by an earlier run must not stand in for a job that dies before writing its own
        for i in 0..jobs {
            let path = summary_file(wd, Some(Shard { index: i, count: jobs }));
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        log::info!("{jobs} jobs of {threads} thread(s) each");
        let mut children = Vec::with_capacity(jobs);
        for i in 0..jobs {
            let started = Command::new(&job.program)
                .args(&job.args)
                .arg("--shard")
                .arg(format!("{i}/{jobs}"))
                .env("OMP_NUM_THREADS", &threads)
                .env("MKL_NUM_THREADS", &threads)
                .env(crate::logging::PROGRESS_LINES_ENV, "1")
                .spawn();
            match started {
                Ok(child) => children.push(child),
                Err(e) => {
                    // no half-started set of jobs left running without their parent
                    for mut c in children {
                        let _ = c.kill();
                        let _ = c.wait();
                    }
                    return Err(Error::io(&job.program, e));
                }
            }
        }
        let mut parts = Vec::new();
        let mut lost = Vec::new();
        for (i, mut child) in children.into_iter().enumerate() {
            let status = child.wait().map_err(|e| Error::io(&job.program, e))?;
            match read_summary(&summary_file(wd, Some(Shard { index: i, count: jobs }))) {
                Ok(s) => parts.push(s),
                // a job that failed samples still writes its summary; one without any stopped early
                Err(e) => lost.push(format!("job {i}/{jobs} ({status}): {e}")),
            }
        }
        if !lost.is_empty() {
            return Err(Error::Jobs(format!(
                "{} of {jobs} stopped before writing their summary ({}); their log lines are in {}",
                lost.len(),
                lost.join("; "),
                wd.log_file().display()
            )));
        }
        let summary = Summary::merge(parts);
        self.finish_outputs(wd, data.as_ref())?;
        summary.write(&summary_file(wd, None))?;
        Ok(summary)
    }
}
