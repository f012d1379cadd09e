//! `netlab`: run linnet's scenarios. `netlab help` lists the commands.

use std::process::ExitCode;

use net_core::ftrace::{FgraphOpts, GraphTracer};
use net_lab::{RunOpts, all, check_sysctls, export, find, render};

/// Where `run` sends what it produced besides the text.
#[derive(Default)]
struct Outputs {
    pcap: Option<String>,
    json: bool,
    plot: Option<String>,
    /// `--ftrace`: the buffer size in events, and the output options.
    ftrace: Option<(usize, FgraphOpts)>,
}

const USAGE: &str = "usage: netlab <command>

commands:
  tour                      run the headline scenarios, explain what to notice, and
                            write each trace as a pcap under $TMPDIR/netlab-tour/
  list                      list every scenario
  run SCENARIO [options]    run one scenario
      --seed N              seed every host's random source (default 1)
      --sysctl NAME=VALUE   set a sysctl on every host, e.g. net.core.somaxconn=128
      --pcap FILE           write every frame the traced host saw (classic pcap, ns)
      --json                print the run as JSON instead of text
      --plot FILE.svg       draw the time-sequence graph (and cwnd, if sampled)
      --ftrace              print the function graph of the run, as ftrace's
                            function_graph tracer does (the first 2000 events)
      --ftrace-entries N    …keeping the first N events instead (implies --ftrace)
      --ftrace-opt OPTION   funcgraph-duration (host µs; differs run to run) or
                            funcgraph-tail (implies --ftrace)
  explain SCENARIO          what a scenario shows and where the book explains it
  tap [options]             linnet as a real host on a TAP device, serving the kernel
                            (needs root; Ctrl-C stops it and prints a summary)
      --ifname NAME         the TAP device to create, e.g. tap0 (required)
      --addr A/PREFIX       linnet's address, e.g. 10.9.0.2/24 (required)
      --serve KIND          echo, discard, chargen or http (required)
      --port P              port to serve (default: 7, 9, 19 or 80 by KIND)
      --gateway G           default route via G (inside A/PREFIX)
      --netns NS            put the kernel's end in namespace NS (ip netns add NS)
      --pcap FILE           record every frame on the TAP
      --duration SECS       stop after SECS seconds
      --seed N, --sysctl NAME=VALUE   as for run
  replay FILE [options]     feed a capture (classic pcap, Ethernet) to a linnet host
                            in virtual time at its timestamps; print what the host
                            answers, tcpdump style, and its counters
      --addr A/PREFIX       the host's address (required)
      --port P --listen     listen on port P
      --all                 feed every frame, not only those addressed to the host
      --pcap FILE           write the input and the answers
      --seed N, --sysctl NAME=VALUE   as for run
  help                      this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netlab: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let Some(cmd) = args.first() else {
        return Err(format!("no command given\n{USAGE}"));
    };
    match cmd.as_str() {
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        "list" => {
            for s in all() {
                println!("{:<16} {}", s.name, s.summary);
            }
            Ok(())
        }
        "tour" => {
            if args.len() > 1 {
                return Err(format!("'tour' takes no arguments (got '{}')", args[1]));
            }
            let opts = RunOpts { seed: 1, ..Default::default() };
            println!("linnet lab tour — every run is in virtual time and replays exactly.\n");
            let dir = std::env::temp_dir().join("netlab-tour");
            for s in all().iter().filter(|s| s.in_tour) {
                let r = (s.run)(&opts)?;
                println!("{}", render(s, &r));
                if !r.frames.is_empty() {
                    let path = dir.join(format!("{}.pcap", s.name));
                    let written = std::fs::create_dir_all(&dir)
                        .map_err(|e| e.to_string())
                        .and_then(|()| export::write_pcap(&r, &path.to_string_lossy()));
                    match written {
                        Ok(()) => println!("pcap: {} (tcpdump -n -r, tshark -r)\n", path.display()),
                        Err(e) => println!("pcap: not written: {e}\n"),
                    }
                }
            }
            println!(
                "Run `netlab list` for every scenario and `netlab explain NAME` for the story behind one."
            );
            Ok(())
        }
        "explain" => {
            let name = args.get(1).ok_or("'explain' needs a scenario name; try `netlab list`")?;
            let s = find(name).ok_or_else(|| unknown(name))?;
            println!("{}: {}\n\n{}", s.name, s.summary, s.explain);
            Ok(())
        }
        "run" => {
            let name = args.get(1).ok_or("'run' needs a scenario name; try `netlab list`")?;
            let s = find(name).ok_or_else(|| unknown(name))?;
            let (opts, outs) = parse_opts(&args[2..])?;
            check_sysctls(&opts)?;
            let tracer = outs.ftrace.map(|(entries, _)| GraphTracer::start(entries));
            let r = (s.run)(&opts);
            let graph = tracer.map(GraphTracer::finish);
            let r = r?;
            if let Some(p) = &outs.pcap {
                if r.frames.is_empty() {
                    return Err(format!(
                        "scenario '{}' traces no device; there is nothing to write to {p}",
                        s.name
                    ));
                }
                export::write_pcap(&r, p)?;
            }
            if let Some(p) = &outs.plot {
                export::write_plot(s, &r, p)?;
            }
            let graph =
                graph.zip(outs.ftrace).map(|(g, (entries, fo))| net_lab::ftrace_text(&g, entries, fo));
            if outs.json {
                let mut v = export::to_json(s, &r);
                if let Some(g) = graph {
                    v["ftrace"] = serde_json::Value::String(g);
                }
                let text = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?;
                emit(&(text + "\n"))
            } else {
                emit(&(render(s, &r) + &graph.map(|g| format!("\n{g}")).unwrap_or_default()))
            }
        }
        "tap" => net_lab::tap::run(&net_lab::tap::parse_opts(&args[1..])?),
        "replay" => emit(&net_lab::replay::run(&net_lab::replay::parse_opts(&args[1..])?)?),
        other => Err(format!("unknown command '{other}'; try `netlab help`")),
    }
}

/// Write to stdout; a reader that went away (`netlab run … | head`) ends
/// the output quietly instead of panicking as `print!` would.
fn emit(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write to stdout: {e}")),
    }
}

fn unknown(name: &str) -> String {
    let names: Vec<&str> = all().iter().map(|s| s.name).collect();
    format!("unknown scenario '{name}'; known scenarios: {}", names.join(", "))
}

fn parse_opts(args: &[String]) -> Result<(RunOpts, Outputs), String> {
    let mut opts = RunOpts { seed: 1, ..Default::default() };
    let mut outs = Outputs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => {
                let v = it.next().ok_or("--seed needs a number")?;
                opts.seed =
                    v.parse().map_err(|_| format!("--seed needs a non-negative integer, got '{v}'"))?;
            }
            "--sysctl" => {
                let v = it.next().ok_or("--sysctl needs NAME=VALUE")?;
                let (k, val) =
                    v.split_once('=').ok_or_else(|| format!("--sysctl needs NAME=VALUE, got '{v}'"))?;
                opts.sysctls.push((k.trim().to_string(), val.trim().to_string()));
            }
            "--pcap" => outs.pcap = Some(it.next().ok_or("--pcap needs a file name")?.clone()),
            "--plot" => outs.plot = Some(it.next().ok_or("--plot needs a file name, e.g. out.svg")?.clone()),
            "--json" => outs.json = true,
            "--ftrace" => {
                outs.ftrace.get_or_insert((net_lab::FTRACE_ENTRIES, FgraphOpts::default()));
            }
            "--ftrace-entries" => {
                let v = it.next().ok_or("--ftrace-entries needs a number")?;
                let n: usize = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--ftrace-entries needs a positive integer, got '{v}'"))?;
                outs.ftrace.get_or_insert((n, FgraphOpts::default())).0 = n;
            }
            "--ftrace-opt" => {
                let v = it.next().ok_or("--ftrace-opt needs funcgraph-duration or funcgraph-tail")?;
                let fo = &mut outs.ftrace.get_or_insert((net_lab::FTRACE_ENTRIES, FgraphOpts::default())).1;
                match v.as_str() {
                    "funcgraph-duration" => fo.duration = true,
                    "funcgraph-tail" => fo.tail = true,
                    _ => {
                        return Err(format!(
                            "--ftrace-opt knows funcgraph-duration and funcgraph-tail, not '{v}'"
                        ));
                    }
                }
            }
            other => return Err(format!("unknown option '{other}'; try `netlab help`")),
        }
    }
    Ok((opts, outs))
}
