//! The graph and runtime workloads of deltaflow's `deltaflow_graph_bench`
//! (benchmarks/graph_bench.cc), written against differential-dataflow:
//!
//!   degree    n edges in closed-loop batches of 10k into out-degrees, then nodes per degree
//!             (count_total twice; the degrees summed per message by consolidate_stream before
//!             the second, as deltaflow's DegreeDistribution does); then update batches of 1,
//!             1,000 and (n >= 1M) 1M changes, each retracting the oldest live edge and
//!             inserting a new one: median latency.
//!   pagerank  the same edges into PageRank, 5 unrolled steps of exact integer arithmetic
//!             (each step: ranks joined with the edges annotated with their source's
//!             out-degree, then summed per node with the 15% reset), batches of 10k; then
//!             update batches of 1,000 changes: median latency.
//!   idle      a maintained count loaded with 100k keys, then idle for one second (inputs
//!             open, workers parked): the process's CPU time over that second.
//!   chain     1,000 `map` operators in a chain; n rounds of one update each.
//!
//! The graph: node ids are splitmix64 of the shared seed plus a counter, squared into
//! [0, n / 8) with the same double arithmetic as graph_bench.cc.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use differential_dataflow::input::Input;
use differential_dataflow::operators::CountTotal;
use differential_dataflow::trace::implementations::{ValBuilder, ValSpine};
use timely::dataflow::operators::probe::Handle;

use crate::{process_cpu_seconds, report, splitmix64, BATCH_SIZE, SEED};

type Edge = (u64, u64);

const SCALE: i64 = 6_000_000;
const RESET: i64 = SCALE * 15 / 100;
const CHAIN: usize = 1000;

fn skewed(h: u64, nodes: u64) -> u64 {
    let u = (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    (u * u * nodes as f64) as u64
}

fn edge_at(i: u64, nodes: u64) -> Edge {
    (
        skewed(splitmix64(SEED.wrapping_add(2 * i)), nodes),
        skewed(splitmix64(SEED.wrapping_add(2 * i + 1)), nodes),
    )
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if xs.is_empty() { 0.0 } else { xs[xs.len() / 2] }
}

/// Runs one workload on the workers `timely_args` asks for; each worker returns (timed
/// seconds, cpu seconds, extra JSON fields) and `report` prints the JSON line.
pub fn run(workload: &str, n: usize, timely_args: Vec<String>, workers: usize) {
    let barrier = Arc::new(Barrier::new(workers));
    let workload_w = workload.to_string();
    let guards = timely::execute_from_args(timely_args.into_iter(), move |worker| {
        let index = worker.index();
        let peers = worker.peers();
        let probe = Handle::new();
        match workload_w.as_str() {
            "degree" | "pagerank" => {
                let pagerank = workload_w == "pagerank";
                let mut input = worker.dataflow::<u64, _, _>(|scope| {
                    let (input, edges) = scope.new_collection::<Edge, isize>();
                    if pagerank {
                        page_rank(edges, 5).probe_with(&probe);
                    } else {
                        edges
                            .map(|(src, _dst)| src)
                            .count_total()
                            .map(|(_node, degree)| degree)
                            .consolidate_stream()
                            .count_total()
                            .probe_with(&probe);
                    }
                    input
                });
                barrier.wait();
                let nodes = std::cmp::max(16, (n / 8) as u64);
                let mut t: u64 = 0;
                // Each round: this worker's share of `changes`, then step until the probe passes.
                let mut round = |worker: &mut timely::worker::Worker, input: &mut differential_dataflow::input::InputSession<u64, Edge, isize>, changes: &[(Edge, isize)]| {
                    let start = Instant::now();
                    let share = (changes.len() + peers - 1) / peers;
                    let lo = (index * share).min(changes.len());
                    let hi = ((index + 1) * share).min(changes.len());
                    for &(e, d) in &changes[lo..hi] {
                        input.update(e, d);
                    }
                    t += 1;
                    input.advance_to(t);
                    input.flush();
                    while probe.less_than(&t) {
                        worker.step_or_park(None);
                    }
                    start.elapsed().as_secs_f64()
                };
                let cpu_start = process_cpu_seconds();
                let start = Instant::now();
                let mut batch: Vec<(Edge, isize)> = Vec::new();
                let mut begin = 0;
                while begin < n {
                    let end = (begin + BATCH_SIZE).min(n);
                    batch.clear();
                    batch.extend((begin..end).map(|i| (edge_at(i as u64, nodes), 1)));
                    round(worker, &mut input, &batch);
                    begin = end;
                }
                let seconds = start.elapsed().as_secs_f64();
                let cpu_seconds = process_cpu_seconds() - cpu_start;
                let mut sizes: Vec<(usize, usize)> = if pagerank { vec![(1000, 10)] } else { vec![(1, 50), (1000, 20)] };
                if !pagerank && n >= 1_000_000 {
                    sizes.push((1_000_000, 2));
                }
                let (mut oldest, mut next) = (0u64, n as u64);
                let mut latencies = Vec::new();
                for (size, reps) in sizes {
                    let mut times = Vec::new();
                    for _ in 0..reps {
                        batch.clear();
                        for _ in 0..size {
                            batch.push((edge_at(oldest, nodes), -1));
                            batch.push((edge_at(next, nodes), 1));
                            oldest += 1;
                            next += 1;
                        }
                        times.push(round(worker, &mut input, &batch));
                    }
                    latencies.push(format!("\"{}\": {:.6}", size, median(times) * 1e3));
                }
                drop(input);
                while worker.step_or_park(Some(Duration::from_millis(1))) {}
                (seconds, cpu_seconds, format!(", \"latency_ms\": {{{}}}", latencies.join(", ")))
            }
            "idle" => {
                let mut input = worker.dataflow::<u64, _, _>(|scope| {
                    let (input, keys) = scope.new_collection::<u64, isize>();
                    keys.count_total().probe_with(&probe);
                    input
                });
                barrier.wait();
                for b in 0..10u64 {
                    let share = (BATCH_SIZE + peers - 1) / peers;
                    for i in (index * share)..((index + 1) * share).min(BATCH_SIZE) {
                        input.insert(splitmix64(SEED.wrapping_add(b * BATCH_SIZE as u64 + i as u64)));
                    }
                    input.advance_to(b + 1);
                    input.flush();
                    while probe.less_than(&(b + 1)) {
                        worker.step_or_park(None);
                    }
                }
                barrier.wait();
                let cpu_start = process_cpu_seconds();
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(1) {
                    worker.step_or_park(Some(Duration::from_secs(1) - start.elapsed().min(Duration::from_secs(1))));
                }
                let seconds = start.elapsed().as_secs_f64();
                let cpu_seconds = process_cpu_seconds() - cpu_start;
                drop(input);
                while worker.step_or_park(Some(Duration::from_millis(1))) {}
                (seconds, cpu_seconds, format!(", \"idle_cpu_ms_per_s\": {:.3}", cpu_seconds / seconds * 1e3))
            }
            _ => {
                // chain
                let mut input = worker.dataflow::<u64, _, _>(|scope| {
                    let (input, mut data) = scope.new_collection::<u64, isize>();
                    for _ in 0..CHAIN {
                        data = data.map(|x| x + 1);
                    }
                    data.probe_with(&probe);
                    input
                });
                barrier.wait();
                let cpu_start = process_cpu_seconds();
                let start = Instant::now();
                for i in 0..n as u64 {
                    if index == 0 {
                        input.insert(i);
                    }
                    input.advance_to(i + 1);
                    input.flush();
                    while probe.less_than(&(i + 1)) {
                        worker.step_or_park(None);
                    }
                }
                let seconds = start.elapsed().as_secs_f64();
                let cpu_seconds = process_cpu_seconds() - cpu_start;
                drop(input);
                while worker.step_or_park(Some(Duration::from_millis(1))) {}
                (seconds, cpu_seconds, format!(", \"ns_per_operator_per_round\": {:.3}", seconds / n as f64 / CHAIN as f64 * 1e9))
            }
        }
    })
    .unwrap_or_else(|e| {
        eprintln!("timely: {e}");
        std::process::exit(1);
    });
    report(workload, n, workers, guards.join(), workload != "idle");
}

/// PageRank for `steps` steps, unrolled, as dd/algorithms/pagerank.h computes it.
fn page_rank<'scope>(
    edges: differential_dataflow::VecCollection<'scope, u64, Edge, isize>,
    steps: usize,
) -> differential_dataflow::VecCollection<'scope, u64, (u64, i64), isize> {
    let nodes = edges.clone().flat_map(|(s, d)| [s, d]).distinct();
    let reset = nodes.clone().map(|n| (n, RESET));
    let out_degrees = edges.clone().map(|(s, _d)| s).count_total();
    // (src, (dst, out-degree of src)), arranged once for all steps.
    let out_edges = edges.join(out_degrees).arrange_by_key();
    let mut ranks = nodes.map(|n| (n, SCALE)).arrange_by_key();
    for _ in 0..steps {
        let pushed = ranks.join_core(out_edges.clone(), |_n, rank: &i64, out: &(u64, isize)| {
            Some((out.0, rank * 85 / (100 * out.1 as i64)))
        });
        ranks = pushed
            .concat(reset.clone())
            .arrange_by_key()
            .reduce_abelian::<_, ValBuilder<_, _, _, _>, ValSpine<u64, i64, _, _>, _, _>(
                "Sum",
                |_n, input: &[(&i64, isize)], output: &mut Vec<(i64, isize)>| {
                    let sum: i64 = input.iter().map(|(m, c)| **m * (*c as i64)).sum();
                    output.push((sum, 1));
                },
                |vec, key, upds| {
                    vec.clear();
                    vec.extend(upds.drain(..).map(|(v, t, r)| ((*key, v), t, r)));
                },
            );
    }
    ranks.as_collection(|n, r| (*n, *r))
}
