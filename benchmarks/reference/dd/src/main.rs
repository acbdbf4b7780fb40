//! The workloads of deltaflow's `deltaflow_dd_bench`, written against differential-dataflow
//! itself, so that the two can be compared on the same machine (benchmarks/run.py runs both).
//!
//!   dd_reference_bench <workload> <keys> [timely args, e.g. -w 2]
//!
//! workload:
//!   arrange  input -> arrange_by_self -> probe; the trace is held (as a reader would) and its
//!            logical and physical compaction advanced to each batch's upper, as
//!            BM_ArrangementUpkeep does with its spine.
//!   count    input -> count_total -> probe (BM_MaintainedCount, BM_MaintainedCountWorkers).
//!   degree, pagerank, idle, chain: see graph.rs (deltaflow's counterpart: graph_bench.cc).
//!
//! Input: `keys` distinct u64 keys, splitmix64 of the seed 0x5eed_de17_af10_0000 plus a counter
//! (the same sequence as dd_bench.cc), generated before timing starts, fed as closed-loop
//! batches of 10k: batch t is inserted at time t, the input advanced to t + 1, and the workers
//! stepped until the probe passes t + 1 before the next batch is offered. With W workers each
//! batch is split into W contiguous shares, one per worker's input (as the deltaflow runtime
//! case does); the arrangement exchanges updates by key.
//!
//! Timing is wall-clock, from the moment every worker has built the dataflow until the last
//! batch has passed the probe; tearing down is not timed. Output: one JSON line
//! {system, workload, keys, workers, seconds, cpu_seconds, updates_per_s, peak_rss_kb}, where
//! cpu_seconds is the process's user + system time over the timed span (all worker threads)
//! and peak_rss_kb is VmHWM from /proc/self/status at the end.

mod graph;

use std::sync::{Arc, Barrier};
use std::time::Instant;

use differential_dataflow::input::Input;
use differential_dataflow::operators::CountTotal;
use differential_dataflow::trace::TraceReader;
use timely::dataflow::operators::probe::Handle;
use timely::dataflow::operators::Probe;
use timely::progress::frontier::AntichainRef;

const BATCH_SIZE: usize = 10_000;
const SEED: u64 = 0x5eed_de17_af10_0000;

/// splitmix64 (Steele, Lea, Flood), as in dd_bench.cc: a bijection of its counter.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// VmHWM (peak resident set) of this process in KiB, or 0 if unreadable.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU seconds of the whole process (all threads), from /proc/self/stat.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may contain spaces: fields after its closing ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // USER_HZ is 100 on Linux for every userspace ABI.
    (ticks(14) + ticks(15)) as f64 / 100.0
}

fn usage() -> ! {
    eprintln!("usage: dd_reference_bench <arrange|count|degree|pagerank|idle|chain> <n> [timely args, e.g. -w 2]");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| usage());
    if !["arrange", "count", "degree", "pagerank", "idle", "chain"].contains(&workload.as_str()) {
        usage();
    }
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| usage());
    let timely_args: Vec<String> = args.collect();
    let workers: usize = timely_args
        .iter()
        .position(|a| a == "-w" || a == "--workers")
        .and_then(|i| timely_args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);

    if workload != "arrange" && workload != "count" {
        graph::run(&workload, n, timely_args, workers);
        return;
    }
    let keys: Arc<Vec<u64>> = Arc::new((0..n as u64).map(|i| splitmix64(SEED.wrapping_add(i))).collect());
    let barrier = Arc::new(Barrier::new(workers));
    let workload_w = workload.clone();

    let guards = timely::execute_from_args(timely_args.into_iter(), move |worker| {
        let index = worker.index();
        let peers = worker.peers();
        let probe = Handle::new();
        let (mut input, mut trace) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, data) = scope.new_collection::<u64, isize>();
            match workload_w.as_str() {
                "arrange" => {
                    let arranged = data.arrange_by_self();
                    arranged.stream.probe_with(&probe);
                    (input, Some(arranged.trace))
                }
                _ => {
                    data.count_total().probe_with(&probe);
                    (input, None)
                }
            }
        });

        barrier.wait();
        let cpu_start = process_cpu_seconds();
        let start = Instant::now();
        let mut t: u64 = 0;
        let mut begin = 0;
        while begin < n {
            let end = (begin + BATCH_SIZE).min(n);
            let share = (end - begin + peers - 1) / peers;
            let lo = (begin + index * share).min(end);
            let hi = (begin + (index + 1) * share).min(end);
            for &k in &keys[lo..hi] {
                input.insert(k);
            }
            input.advance_to(t + 1);
            input.flush();
            if let Some(trace) = trace.as_mut() {
                // The only reader needs nothing before the new upper.
                let upper = [t + 1];
                trace.set_logical_compaction(AntichainRef::new(&upper));
                trace.set_physical_compaction(AntichainRef::new(&upper));
            }
            // Park rather than spin while waiting on the other workers: on a shared machine
            // a spinning worker takes the core the others need.
            while probe.less_than(&(t + 1)) {
                worker.step_or_park(None);
            }
            begin = end;
            t += 1;
        }
        let seconds = start.elapsed().as_secs_f64();
        let cpu_seconds = process_cpu_seconds() - cpu_start;

        // Not timed: close the input and let the dataflow drain.
        drop(trace);
        drop(input);
        while worker.step_or_park(Some(std::time::Duration::from_millis(1))) {}
        (seconds, cpu_seconds, String::new())
    })
    .unwrap_or_else(|e| {
        eprintln!("timely: {e}");
        std::process::exit(1);
    });

    report(&workload, n, workers, guards.join(), true);
}

/// Prints the run's JSON line from every worker's (seconds, cpu seconds, extra JSON fields):
/// the slowest worker's clock (the last batch has passed every probe when it stops), and the
/// first worker's extra fields. `rate`: whether updates/s means anything for the workload.
fn report(workload: &str, n: usize, workers: usize, joined: Vec<Result<(f64, f64, String), String>>, rate: bool) {
    let results: Vec<(f64, f64, String)> = joined
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| {
            eprintln!("worker failed: {e}");
            std::process::exit(1);
        }))
        .collect();
    let seconds = results.iter().map(|r| r.0).fold(0.0, f64::max);
    let cpu_seconds = results.iter().map(|r| r.1).fold(0.0, f64::max);
    let updates_per_s = if rate { n as f64 / seconds } else { 0.0 };
    println!(
        "{{\"system\": \"differential-dataflow\", \"workload\": \"{}\", \"keys\": {}, \"workers\": {}, \"seconds\": {:.6}, \"cpu_seconds\": {:.2}, \"updates_per_s\": {:.1}, \"peak_rss_kb\": {}{}}}",
        workload, n, workers, seconds, cpu_seconds, updates_per_s, peak_rss_kb(), results[0].2
    );
}
