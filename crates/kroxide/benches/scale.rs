//! kroxide's benchmarks: graph build + render, plan, whole-process runs,
//! direct deploy against the test API server (with serial and parallel
//! server-side-apply loops in the same run), and readiness latency.
//!
//! `scripts/bench.sh` runs it and writes BENCHMARKS.md. Numbers are medians
//! of repeated runs on the machine that ran it.

use futures::future::join_all;
use kroxide::dsl::schema::{RefBase, SimpleType, Types};
use kroxide::engine::{DeployOptions, DirectEngine};
use kroxide::model::{FieldNode, FieldTree};
use kroxide::prelude::*;
use kroxide::semantics::plan::PlanOptions;
use kroxide_testserver::{FaultKind, TestServer};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::Discovery;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- memory

struct Counting;
/// Counting is switched on only while memory is measured, so that timed runs
/// do not pay for it.
static COUNTING: AtomicBool = AtomicBool::new(false);
static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            let size = l.size() as isize;
            let now = CURRENT.fetch_add(size, Ordering::Relaxed) + size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        if COUNTING.load(Ordering::Relaxed) {
            CURRENT.fetch_sub(l.size() as isize, Ordering::Relaxed);
        }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The most memory allocated at once while `f` ran, above what was live
/// before (memory freed by `f` that it did not allocate counts against it,
/// so this is a lower bound on the peak).
fn peak_memory(f: impl FnOnce()) -> usize {
    CURRENT.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    f();
    COUNTING.store(false, Ordering::Relaxed);
    PEAK.load(Ordering::Relaxed).max(0) as usize
}

// ---------------------------------------------------------------- the synthetic graph

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BenchSpec {
    pub image: String,
    pub replicas: i32,
}

/// A status with one field per service (written by hand: the number of
/// fields is known only at run time).
pub struct ManyStatus;

impl kroxide::dsl::Schema for ManyStatus {
    type Ref = ();
    type Exprs = Vec<(String, Expr<bool>)>;
    fn simple_type(_: &mut Types) -> SimpleType {
        SimpleType::Object(FieldTree::new())
    }
    fn reference(_: &RefBase) {}
    fn status_node(e: &Self::Exprs) -> FieldNode {
        FieldNode::Object(
            e.iter()
                .map(|(k, v)| (k.clone(), kroxide::dsl::schema::status_leaf(v)))
                .collect(),
        )
    }
}

/// `resources` resources: services of ConfigMap + Deployment + Service.
fn graph(resources: usize) -> ResourceGraph<BenchSpec, ManyStatus> {
    let services = resources.div_ceil(3);
    ResourceGraph::<BenchSpec, ManyStatus>::new("bench", "v1alpha1", "Bench").build(|g, spec| {
        let mut status = Vec::new();
        for i in 0..services {
            let cm = g.add_as(
                &format!("cm{i}"),
                ConfigMap::new(format!("svc-{i}-config")).data("IMAGE", &spec.image),
            );
            let d = g.add_as(
                &format!("deploy{i}"),
                Deployment::new(format!("svc-{i}"), &spec.image)
                    .replicas(&spec.replicas)
                    .port(8080)
                    .env_from(&cm),
            );
            g.add_as(&format!("svc{i}"), Service::exposing(&d).port(8080));
            status.push((
                format!("svc{i}Ready"),
                d.status().ready_replicas().eq(d.spec().replicas()),
            ));
        }
        status
    })
}

fn spec() -> BenchSpec {
    BenchSpec {
        image: "nginx:1.27".into(),
        replicas: 1,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Median of `times` runs, each with a cold CEL parse cache (as a new process has).
fn repeat(times: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..times)
            .map(|_| {
                kroxide::semantics::cel::clear_cache();
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

// ---------------------------------------------------------------- main

/// Times the parts of build + render for one graph size.
fn breakdown(n: usize) {
    let total = repeat(9, || {
        std::hint::black_box(graph(n).to_rgd_yaml().unwrap());
    });
    let built = repeat(9, || {
        std::hint::black_box(graph(n));
    });
    let mut dropped = Vec::new();
    for _ in 0..9 {
        let g = graph(n);
        let t = Instant::now();
        drop(g);
        dropped.push(t.elapsed());
    }
    let dropped = median(dropped);
    let g = graph(n);
    let rgd = g.to_rgd().unwrap();
    let validation = repeat(9, || {
        std::hint::black_box(validate(&rgd));
    });
    let yaml = repeat(9, || {
        std::hint::black_box(kroxide::model::to_yaml(&rgd).unwrap());
    });
    let opts = PlanOptions {
        assume_ready: true,
        ..PlanOptions::default()
    };
    let planned = repeat(9, || {
        std::hint::black_box(g.plan(&spec(), &opts).unwrap());
    });
    println!(
        "{n} resources: build+render {}, build (incl. validation, drop) {}, validation alone {}, YAML {}, drop {}; plan {}",
        ms(total),
        ms(built),
        ms(validation),
        ms(yaml),
        ms(dropped),
        ms(planned)
    );
}

/// `--timeline N`: one deploy of an N-resource graph with 2 ms per request;
/// prints the server's request log folded into runs of the same kind of
/// request, to show where the wall time goes.
fn timeline(n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let rgd = graph(n).to_rgd().unwrap();
        let inst = serde_json::json!({"spec": {"image": "nginx:1.27", "replicas": 1}});
        let server = TestServer::start().await.unwrap();
        // The server's clock starts just before this one.
        let started = Instant::now();
        slow(&server, Duration::from_millis(2));
        let engine = DirectEngine::new(server.client().unwrap());
        let t = Instant::now();
        let before = (t - started).as_millis();
        engine
            .deploy(&rgd, &inst, &DeployOptions::default())
            .await
            .unwrap();
        println!("deploy of {n} resources: {}", ms(t.elapsed()));
        // Runs of one verb (on single objects or on collections), with the
        // kinds they touched and when the first and last were answered.
        let mut runs: Vec<(String, BTreeSet<String>, usize, u128, u128)> = Vec::new();
        for r in server.requests() {
            let parts: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).collect();
            let (plural, item) = match parts.iter().position(|s| *s == "namespaces") {
                Some(i) if parts.len() > i + 2 => (parts[i + 2], parts.len() > i + 3),
                _ => (parts.last().copied().unwrap_or("/"), false),
            };
            let label = format!(
                "{} {}{}",
                r.verb,
                if item { "object" } else { "collection" },
                if r.dry_run { " (dry run)" } else { "" }
            );
            match runs.last_mut() {
                // A pause of more than 5 ms starts a new run.
                Some(last) if last.0 == label && r.at_ms <= last.4 + 5 => {
                    last.1.insert(plural.to_string());
                    last.2 += 1;
                    last.4 = r.at_ms;
                }
                _ => runs.push((
                    label,
                    BTreeSet::from([plural.to_string()]),
                    1,
                    r.at_ms,
                    r.at_ms,
                )),
            }
        }
        println!("answered (ms since the deploy began)");
        for (label, kinds, count, first, last) in runs {
            let kinds: Vec<String> = kinds.into_iter().collect();
            println!(
                "{:>6} {:>6}  {count:>5} × {label}: {}",
                first.saturating_sub(before),
                last.saturating_sub(before),
                kinds.join(", ")
            );
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `--timeline N` and `--breakdown N` (where build + render of an
    // N-resource graph spends its time) each run alone.
    let size_after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|n| n.parse::<usize>().ok())
    };
    if let Some(n) = size_after("--timeline") {
        timeline(n);
        return;
    }
    if let Some(n) = size_after("--breakdown") {
        breakdown(n);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let sizes: &[usize] = if quick {
        &[10, 100]
    } else {
        &[10, 100, 1000, 10000]
    };
    let mut md = String::new();
    md.push_str("# Benchmarks\n\nProduced by `scripts/bench.sh` (`cargo bench -p kroxide --bench scale`): medians of repeated runs, release build.\n\n");
    md.push_str(&format!(
        "Machine: {} cores, {}; {}.\n\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        mem_total(),
        rustc_version()
    ));

    md.push_str("## 1. Graph build + RGD render (DSL → validated RGD → YAML)\n\nEach service is a ConfigMap, a Deployment reading it, and a Service; status has one expression per service. Peak memory is measured in a separate run (the counting allocator is off while timing).\n\n| resources | build + render | per resource | peak memory |\n| ---: | ---: | ---: | ---: |\n");
    // Process-wide one-time work (the embedded Kubernetes schema, parsed on
    // first use) is done before the table, so no row carries it.
    std::hint::black_box(graph(10).to_rgd_yaml().unwrap());
    for &n in sizes {
        let runs = if n >= 10000 { 3 } else { 7 };
        let t = repeat(runs, || {
            let yaml = graph(n).to_rgd_yaml().unwrap();
            std::hint::black_box(yaml);
        });
        kroxide::semantics::cel::clear_cache();
        let peak = peak_memory(|| {
            std::hint::black_box(graph(n).to_rgd_yaml().unwrap());
        });
        md.push_str(&format!(
            "| {n} | {} | {:.1} µs | {:.1} MiB |\n",
            ms(t),
            t.as_secs_f64() * 1e6 / n as f64,
            peak as f64 / 1048576.0
        ));
        eprintln!("render {n}: {}", ms(t));
    }

    md.push_str("\n## 2. Plan of the same graphs for one instance (CEL evaluation included, `--assume-ready`)\n\n| resources | plan | per resource |\n| ---: | ---: | ---: |\n");
    for &n in sizes {
        let g = graph(n);
        let runs = if n >= 10000 { 3 } else { 7 };
        let opts = PlanOptions {
            assume_ready: true,
            ..PlanOptions::default()
        };
        let t = repeat(runs, || {
            let p = g.plan(&spec(), &opts).unwrap();
            std::hint::black_box(p);
        });
        md.push_str(&format!(
            "| {n} | {} | {:.1} µs |\n",
            ms(t),
            t.as_secs_f64() * 1e6 / n as f64
        ));
        eprintln!("plan {n}: {}", ms(t));
    }

    md.push_str("\n## 3. Whole process: the microservices example\n\n");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/release/examples/microservices");
    let dev = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/microservices/dev.yaml");
    if example.exists() {
        md.push_str("| command | wall time |\n| --- | ---: |\n");
        for args in [
            vec!["render"],
            vec!["plan", "--instance", dev.to_str().unwrap()],
        ] {
            let t = repeat(21, || {
                let out = std::process::Command::new(&example)
                    .args(&args)
                    .output()
                    .unwrap();
                assert!(out.status.success());
            });
            md.push_str(&format!("| `microservices {}` | {} |\n", args[0], ms(t)));
            eprintln!("process {}: {}", args[0], ms(t));
        }
    } else {
        md.push_str("(skipped: build the example in release first — `scripts/bench.sh` does)\n");
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        md.push_str("\n## 4. Direct deploy against the test API server (zero readiness delay)\n\nMedians of three runs. In the same run, the same manifests applied by a serial server-side-apply loop, by a fully parallel one, and by a parallel server-side dry run of every manifest followed by the parallel applies (what kroxide's rule of checking everything before the first write costs at the least); each on a fresh server. The in-process test server answers in well under a millisecond, so every loop is bound by CPU on this 2-core machine; the second table adds 2 ms to every request (of every kind, watches included), about what a real API server's round trip and etcd write cost, which is where concurrency pays.\n\n");
        let deploy_sizes: &[usize] = if quick { &[10, 100] } else { &[10, 100, 1000] };
        for latency in [Duration::ZERO, Duration::from_millis(2)] {
            if !latency.is_zero() {
                md.push_str(&format!("\nWith {} ms added per request:\n\n", latency.as_millis()));
            }
            md.push_str("| resources | kroxide deploy | requests per resource | serial SSA | parallel SSA | parallel dry run, then SSA | deploy / parallel | deploy / dry run + parallel | serial / deploy |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
            for &n in deploy_sizes {
                if !latency.is_zero() && n < 100 {
                    continue;
                }
                let g = graph(n);
                let rgd = g.to_rgd().unwrap();
                let inst = serde_json::json!({"spec": {"image": "nginx:1.27", "replicas": 1}});
                let manifests: Vec<serde_json::Value> = g.plan(&spec(), &PlanOptions::default()).unwrap().resources.iter().flat_map(|r| r.objects.clone()).collect();
                // Medians of three runs, each on a fresh server.
                let (mut deploys, mut serials, mut parallels, mut checks) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                let mut requests = 0.0;
                for _ in 0..3 {
                    let server = TestServer::start().await.unwrap();
                    slow(&server, latency);
                    let engine = DirectEngine::new(server.client().unwrap());
                    let t = Instant::now();
                    engine.deploy(&rgd, &inst, &DeployOptions::default()).await.unwrap();
                    deploys.push(t.elapsed());
                    requests = server.requests().len() as f64 / manifests.len() as f64;
                    serials.push(ssa(&manifests, Loop::Serial, latency).await);
                    parallels.push(ssa(&manifests, Loop::Parallel, latency).await);
                    checks.push(ssa(&manifests, Loop::DryRunThenParallel, latency).await);
                }
                let (deploy, serial, parallel, checked) = (median(deploys), median(serials), median(parallels), median(checks));
                md.push_str(&format!(
                    "| {} | {} | {:.2} | {} | {} | {} | {:.2}× | {:.2}× | {:.2}× |\n",
                    manifests.len(),
                    ms(deploy),
                    requests,
                    ms(serial),
                    ms(parallel),
                    ms(checked),
                    deploy.as_secs_f64() / parallel.as_secs_f64(),
                    deploy.as_secs_f64() / checked.as_secs_f64(),
                    serial.as_secs_f64() / deploy.as_secs_f64()
                ));
                eprintln!("deploy {n} (+{latency:?}/request): {} (serial {}, parallel {}, dry run + parallel {})", ms(deploy), ms(serial), ms(parallel), ms(checked));
            }
        }

        md.push_str("\n## 5. Readiness detection latency\n\nOne Deployment; the simulated controller marks it ready after a delay D. Latency = deploy time with delay D − deploy time with no delay − D (median of 9).\n\n");
        let one = graph(3);
        let rgd = one.to_rgd().unwrap();
        let inst = serde_json::json!({"spec": {"image": "nginx:1.27", "replicas": 1}});
        let mut lat = Vec::new();
        for _ in 0..9 {
            let mut times = Vec::new();
            for delay in [Duration::ZERO, Duration::from_millis(200)] {
                let server = TestServer::start().await.unwrap();
                server.controllers(|c| c.delay = delay);
                let engine = DirectEngine::new(server.client().unwrap());
                let t = Instant::now();
                engine.deploy(&rgd, &inst, &DeployOptions::default()).await.unwrap();
                times.push(t.elapsed());
            }
            lat.push(times[1].saturating_sub(times[0]).saturating_sub(Duration::from_millis(200)));
        }
        let l = median(lat);
        md.push_str(&format!("Median latency from the status flip to the engine moving on: **{}**.\n", ms(l)));
        eprintln!("readiness latency: {}", ms(l));
    });

    md.push_str("\n## Targets (issue 8)\n\n1,000-resource build + render ≤ 20 ms, 10,000 ≤ 250 ms; microservices whole-process render ≤ 20 ms; direct deploy ≤ 1.1× parallel SSA and ≥ 5× faster than serial at 1,000 resources; readiness seen within 100 ms. Compare with the tables above; the notes in the issue say where a target is missed and what limits it.\n");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md");
    if !quick {
        // Hand-written analysis below the marker survives a re-run.
        const MARKER: &str = "<!-- analysis: kept across runs -->";
        if let Some(tail) = std::fs::read_to_string(&out)
            .ok()
            .and_then(|old| old.find(MARKER).map(|i| old[i..].to_string()))
        {
            md.push('\n');
            md.push_str(&tail);
        }
        std::fs::write(&out, md).unwrap();
        eprintln!("wrote {}", out.display());
    } else {
        print!("{md}");
    }
}

/// Adds `latency` to every request the server answers from now on.
fn slow(server: &TestServer, latency: Duration) {
    if !latency.is_zero() {
        server.inject("*", "", usize::MAX, FaultKind::Latency(latency));
    }
}

/// How a baseline loop applies the manifests.
#[derive(Clone, Copy, PartialEq)]
enum Loop {
    /// One server-side apply after another.
    Serial,
    /// All at once.
    Parallel,
    /// A server-side dry run of every manifest, all at once, then all the
    /// applies at once: the requests kroxide's safety rule costs, with no
    /// ordering, waiting or bookkeeping.
    DryRunThenParallel,
}

/// Applies `manifests` with server-side apply to a fresh server, as `how` says.
async fn ssa(manifests: &[serde_json::Value], how: Loop, latency: Duration) -> Duration {
    let server = TestServer::start().await.unwrap();
    let client = server.client().unwrap();
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    slow(&server, latency);
    let pp = PatchParams::apply("bench");
    let apis: Vec<(Api<DynamicObject>, String, &serde_json::Value)> = manifests
        .iter()
        .map(|m| {
            let av = m["apiVersion"].as_str().unwrap();
            let (g, v) = av.rsplit_once('/').unwrap_or(("", av));
            let (ar, _) = discovery
                .resolve_gvk(&kube::core::GroupVersionKind::gvk(
                    g,
                    v,
                    m["kind"].as_str().unwrap(),
                ))
                .unwrap();
            (
                Api::namespaced_with(client.clone(), "default", &ar),
                m["metadata"]["name"].as_str().unwrap().to_string(),
                m,
            )
        })
        .collect();
    let all_at_once = |pp: PatchParams| {
        join_all(apis.iter().map(move |(api, name, m)| {
            let pp = pp.clone();
            async move { api.patch(name, &pp, &Patch::Apply(*m)).await.unwrap() }
        }))
    };
    let t = Instant::now();
    if how == Loop::DryRunThenParallel {
        all_at_once(pp.clone().dry_run()).await;
    }
    if how != Loop::Serial {
        all_at_once(pp.clone()).await;
    } else {
        for (api, name, m) in &apis {
            api.patch(name, &pp, &Patch::Apply(*m)).await.unwrap();
        }
    }
    t.elapsed()
}

fn mem_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.0} GiB memory", kb / 1048576.0))
        .unwrap_or_else(|| "unknown memory".into())
}

fn rustc_version() -> String {
    std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
