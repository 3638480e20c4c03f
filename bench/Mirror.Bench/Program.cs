using System.Diagnostics;
using System.Globalization;
using Mirror.Bench;
using Mirror.IntegrationTests.Infrastructure;

// Usage: Mirror.Bench [--layer-mib N] [--herd-mib N] [--wrk-seconds N] [--systems limit,peer,embedded,cluster]
// Every process listens on 127.0.0.1; everything lives under MIRROR_TEST_ROOT (default /tmp/mirror-bench).
var options = BenchOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: Mirror.Bench [--layer-mib N] [--herd-mib N] [--wrk-seconds N] [--systems limit,peer,embedded,cluster]");
    return 2;
}
var root = Environment.GetEnvironmentVariable("MIRROR_TEST_ROOT") is { Length: > 0 } r ? r : "/tmp/mirror-bench";
Environment.SetEnvironmentVariable("MIRROR_TEST_ROOT", root); // read once by TempDir.Root, before any fixture starts
Directory.CreateDirectory(root);
if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101); // PostgreSQL runs as its own user and must reach its directory

var clock = Stopwatch.StartNew();
var started = DateTimeOffset.Now;
var loadBefore = Machine.LoadAverage();
var results = new Results();
Log($"root {root}; layer {options.LayerMiB} MiB, herd layer {options.HerdMiB} MiB, wrk {options.WrkSeconds} s; load {loadBefore}");

await using (var upstream = await UpstreamRegistry.StartAnonymousAsync())
await using (var proxy = await FaultProxy.StartAsync(upstream))
{
    // Every system (and the "direct" client) reaches the upstream through one counting proxy, so every path pays it.
    Log("building and pushing test images");
    var big = await new ImageBuilder().WithRandomLayer(options.LayerMiB << 20, seed: 5001).PushAsync(upstream, "library/bench", "latest");
    var herdImage = await new ImageBuilder().WithRandomLayer(options.HerdMiB << 20, seed: 5002).PushAsync(upstream, "library/herd", "latest");
    var warmup = await new ImageBuilder().WithRandomLayer(32 << 20, seed: 5003).PushAsync(upstream, "library/warmup", "latest");
    var layer = big.Layers[0];
    var herdLayer = herdImage.Layers[0];
    Log($"pushed {big.Reference} ({layer.Size} B layer) and {herdImage.Reference} ({herdLayer.Size} B layer) in {clock.Elapsed.TotalSeconds:F0} s");

    var bench = new Runner(options, results, proxy, big, layer, herdLayer, warmup);
    if (options.Systems.Contains(SystemName.Limit))
    {
        await using var limit = await NginxLimit.StartAsync(big, layer);
        await bench.RunAsync(SystemName.Limit, limit, herd: null);
    }
    if (options.Systems.Contains(SystemName.Peer))
    {
        await using var peer = await DistributionPeer.StartAsync(proxy.Url, replicas: 1);
        await bench.RunAsync(SystemName.Peer, peer, herd: async () => await DistributionPeer.StartAsync(proxy.Url, replicas: 3));
    }
    if (options.Systems.Contains(SystemName.Embedded))
    {
        await using var embedded = await OurMirror.StartEmbeddedAsync(proxy.Url);
        await bench.RunAsync(SystemName.Embedded, embedded, herd: null);
    }
    if (options.Systems.Contains(SystemName.Cluster))
    {
        await using var cluster = await OurMirror.StartClusterAsync(proxy.Url, silos: 3, frontends: 2);
        await bench.RunAsync(SystemName.Cluster, cluster, herd: null);
    }
}

var report = results.Render(options, started, loadBefore, Machine.LoadAverage(), clock.Elapsed);
Console.WriteLine();
Console.WriteLine(report);
await File.WriteAllTextAsync(Path.Combine(root, "results.md"), report);
return results.Errors.Count == 0 ? 0 : 1;

static void Log(string message) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

namespace Mirror.Bench
{
    /// <summary>Command-line options.</summary>
    internal sealed record BenchOptions(long LayerMiB, long HerdMiB, int WrkSeconds, IReadOnlySet<SystemName> Systems)
    {
        public static BenchOptions? Parse(string[] args)
        {
            var o = new BenchOptions(1024, 64, 10, Enum.GetValues<SystemName>().ToHashSet());
            for (var i = 0; i < args.Length; i++)
            {
                if (i + 1 < args.Length && args[i] == "--systems")
                {
                    var set = new HashSet<SystemName>();
                    foreach (var name in args[++i].Split(','))
                    {
                        if (!Enum.TryParse<SystemName>(name, ignoreCase: true, out var s)) return null;
                        set.Add(s);
                    }
                    o = o with { Systems = set };
                    continue;
                }
                if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0) return null;
                o = args[i] switch
                {
                    "--layer-mib" => o with { LayerMiB = n },
                    "--herd-mib" => o with { HerdMiB = n },
                    "--wrk-seconds" => o with { WrkSeconds = n },
                    _ => null,
                };
                if (o is null) return null;
                i++;
            }
            return o;
        }
    }

    internal enum SystemName { Limit, Peer, Embedded, Cluster }

    internal enum Figure { WarmOne, WarmSixteen, CpuPerGiB, ColdRatio, ColdCpu, FirstByteDelta, HerdFetches, TagRps, UpstreamPerTagPull, PeakRss }

    /// <summary>The phases, run one system at a time.</summary>
    internal sealed class Runner(BenchOptions options, Results results, FaultProxy proxy, PushedImage image, PushedBlob layer, PushedBlob herdLayer,
        PushedImage warmup)
    {
        private const int WarmRuns = 3;
        private const int WarmClients = 16;
        private const int HerdClients = 32;
        private const int TagConnections = 32;

        public async Task RunAsync(SystemName name, BenchSystem system, Func<Task<BenchSystem>>? herd)
        {
            var repo = image.Repository;
            var isLimit = name == SystemName.Limit;
            double peak = 0;
            string peakRole = "";
            void ReadPeaks(BenchSystem s)
            {
                foreach (var (role, pid) in s.Processes())
                {
                    var mib = Measure.PeakRssMiB(pid);
                    if (mib > peak) (peak, peakRole) = (mib, role);
                }
            }

            if (!isLimit)
            {
                await results.TryAsync(name, Figure.ColdRatio, async () =>
                {
                    // A 32 MiB unrelated layer pulled cold, then warm, first: the figures time the fetch path of a running
                    // mirror, not a fresh process's first request and its JIT (perf showed 25% of a cold pull's CPU in
                    // libclrjit when the process had served nothing before).
                    for (var i = 0; i < 2; i++) await Measure.CurlAsync(system.Blob(warmup.Repository, warmup.Layers[0].Digest), warmup.Layers[0].Size);
                    Log($"{name}: cold pull vs direct");
                    var direct = await Measure.CurlAsync(new Uri(proxy.Url, $"v2/{repo}/blobs/{layer.Digest}"), layer.Size);
                    var cpuBefore = system.Processes().Sum(p => Measure.CpuSeconds(p.Pid));
                    var cold = await Measure.CurlAsync(system.Blob(repo, layer.Digest), layer.Size);
                    var cpu = system.Processes().Sum(p => Measure.CpuSeconds(p.Pid)) - cpuBefore;
                    results.Set(name, Figure.ColdCpu, cpu);
                    results.Set(name, Figure.FirstByteDelta, (cold.FirstByte - direct.FirstByte) * 1000);
                    Log($"{name}: direct {direct.Total:F2} s (first byte {direct.FirstByte * 1000:F1} ms), cold {cold.Total:F2} s (first byte {cold.FirstByte * 1000:F1} ms), its CPU {cpu:F1} s");
                    return cold.Total / direct.Total;
                });
            }

            await results.TryAsync(name, Figure.WarmOne, async () =>
            {
                await system.WaitCommittedAsync(layer.Digest);
                if (!isLimit) await Measure.CurlAsync(system.Blob(repo, layer.Digest), layer.Size); // one warm-up read of the cached layer
                var runs = new List<double>();
                for (var i = 0; i < WarmRuns; i++)
                {
                    var t = await Measure.CurlAsync(system.Blob(repo, layer.Digest, i), layer.Size);
                    runs.Add(t.Bytes / t.Total / 1e6);
                }
                Log($"{name}: warm 1 client {string.Join(", ", runs.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)))} MB/s");
                return Measure.Median(runs);
            });

            await results.TryAsync(name, Figure.WarmSixteen, async () =>
            {
                Measure.ResetPeakRss(system.Processes().Select(p => p.Pid));
                var urls = system.Endpoints.Select((_, i) => system.Blob(repo, layer.Digest, i)).ToList();
                double Cpu() => system.Processes().Sum(p => Measure.CpuSeconds(p.Pid));
                var cpuBefore = Cpu();
                var seconds = await Measure.ConcurrentAsync(urls, WarmClients, layer.Size);
                var cpu = Cpu() - cpuBefore;
                ReadPeaks(system);
                var mbps = WarmClients * layer.Size / seconds / 1e6;
                results.Set(name, Figure.CpuPerGiB, cpu / (WarmClients * layer.Size / (double)(1L << 30)));
                Log($"{name}: warm {WarmClients} clients {mbps:F0} MB/s aggregate ({seconds:F1} s), server CPU {cpu:F1} s");
                return mbps;
            });

            await results.TryAsync(name, Figure.TagRps, async () =>
            {
                var url = system.Manifest(repo, image.Tag!);
                using (var client = new HttpClient())
                using (var prime = new HttpRequestMessage(HttpMethod.Get, url))
                {
                    prime.Headers.TryAddWithoutValidation("Accept", image.MediaType);
                    using var answer = await client.SendAsync(prime);
                    answer.EnsureSuccessStatusCode();
                }
                proxy.ResetRequests();
                var wrk = await Measure.WrkAsync(url, image.MediaType, TagConnections, options.WrkSeconds);
                if (wrk.Errors > 0) throw new InvalidOperationException($"{wrk.Errors} of {wrk.Requests} tag GETs were not 2xx");
                var upstreamRequests = proxy.Requests.Count;
                if (!isLimit) results.Set(name, Figure.UpstreamPerTagPull, (double)upstreamRequests / wrk.Requests);
                Log($"{name}: tag GET {wrk.RequestsPerSecond:F0} req/s, {wrk.Requests} requests, {upstreamRequests} upstream requests");
                return wrk.RequestsPerSecond;
            });

            if (!isLimit)
            {
                await results.TryAsync(name, Figure.HerdFetches, async () =>
                {
                    var target = herd is null ? system : await herd();
                    try
                    {
                        Measure.ResetPeakRss(target.Processes().Select(p => p.Pid));
                        proxy.ResetRequests();
                        var urls = target.Endpoints.Select((_, i) => target.Blob("library/herd", herdLayer.Digest, i)).ToList();
                        var seconds = await Measure.ConcurrentAsync(urls, HerdClients, herdLayer.Size);
                        ReadPeaks(target);
                        var fetches = proxy.CountBlobGets(herdLayer.Digest);
                        Log($"{name}: herd of {HerdClients} over {target.Endpoints.Count} endpoint(s): {fetches} upstream GETs, {seconds:F1} s");
                        return fetches;
                    }
                    finally
                    {
                        if (!ReferenceEquals(target, system)) await target.DisposeAsync();
                    }
                });
            }
            results.Set(name, Figure.PeakRss, peak, peakRole);
        }

        private static void Log(string message) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
    }

    /// <summary>Figures by system, and the table they make.</summary>
    internal sealed class Results
    {
        private readonly Dictionary<(SystemName, Figure), (double Value, string Note)> _values = [];

        public List<string> Errors { get; } = [];

        public void Set(SystemName system, Figure figure, double value, string note = "") => _values[(system, figure)] = (value, note);

        public async Task TryAsync(SystemName system, Figure figure, Func<Task<double>> measure)
        {
            try { Set(system, figure, await measure()); }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or HttpRequestException or UnauthorizedAccessException)
            {
                Errors.Add($"{system} / {figure}: {e.Message}");
                Console.WriteLine($"ERROR {system} / {figure}: {e.Message}");
            }
        }

        private double? Get(SystemName s, Figure f) => _values.TryGetValue((s, f), out var v) ? v.Value : null;

        private static readonly (Figure Figure, string Label, string Format)[] Rows =
        [
            (Figure.WarmOne, "warm blob, 1 client, MB/s (median of 3)", "F0"),
            (Figure.WarmSixteen, "warm blob, 16 clients, MB/s aggregate", "F0"),
            (Figure.CpuPerGiB, "server CPU s per GiB served (16-client phase, all its processes)", "F2"),
            (Figure.ColdRatio, "cold / direct (time of the uncached layer)", "F2"),
            (Figure.ColdCpu, "CPU s the system used for the cold pull (all its processes)", "F1"),
            (Figure.FirstByteDelta, "cold first byte − direct first byte, ms", "F1"),
            (Figure.HerdFetches, "herd: upstream GETs for 32 concurrent cold GETs", "F0"),
            (Figure.TagRps, "warm tag GET, req/s (wrk, 32 connections)", "F0"),
            (Figure.UpstreamPerTagPull, "upstream requests per warm tag pull", "F3"),
            (Figure.PeakRss, "peak RSS per process, MiB (16-client and herd phases)", "F0"),
        ];

        public string Render(BenchOptions options, DateTimeOffset started, string loadBefore, string loadAfter, TimeSpan elapsed)
        {
            var w = new StringWriter();
            w.WriteLine($"Date: {started:yyyy-MM-dd HH:mm zzz}. Machine: {Machine.Describe()}.");
            w.WriteLine($"Load average before: {loadBefore}; after: {loadAfter}. Run time: {elapsed.TotalMinutes:F1} min.");
            w.WriteLine($"Layer {options.LayerMiB} MiB (herd layer {options.HerdMiB} MiB); MB = 10^6 bytes.");
            w.WriteLine();
            w.WriteLine("| figure | limit (nginx sendfile) | peer (distribution 2.8 proxy) | ours, embedded | ours, cluster (3 silos + 2 frontends) | embedded ÷ peer | embedded ÷ limit | cluster ÷ peer | cluster ÷ limit |");
            w.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (figure, label, format) in Rows)
            {
                string Cell(SystemName s)
                {
                    if (!_values.TryGetValue((s, figure), out var v)) return "–";
                    var text = v.Value.ToString(format, CultureInfo.InvariantCulture);
                    return v.Note.Length > 0 ? $"{text} ({v.Note})" : text;
                }
                string Ratio(SystemName ours, SystemName other) =>
                    Get(ours, figure) is { } a && Get(other, figure) is { } b && b != 0 ? (a / b).ToString("F2", CultureInfo.InvariantCulture) : "–";
                w.WriteLine($"| {label} | {Cell(SystemName.Limit)} | {Cell(SystemName.Peer)} | {Cell(SystemName.Embedded)} | {Cell(SystemName.Cluster)} | " +
                            $"{Ratio(SystemName.Embedded, SystemName.Peer)} | {Ratio(SystemName.Embedded, SystemName.Limit)} | " +
                            $"{Ratio(SystemName.Cluster, SystemName.Peer)} | {Ratio(SystemName.Cluster, SystemName.Limit)} |");
            }
            foreach (var e in Errors) w.WriteLine($"\nERROR {e}");
            return w.ToString();
        }
    }

    /// <summary>What the figures were measured on.</summary>
    internal static class Machine
    {
        public static string Describe()
        {
            var memKb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
            var kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            return $"nproc {Environment.ProcessorCount}, memory {long.Parse(memKb, CultureInfo.InvariantCulture) / 1024 / 1024.0:F1} GiB, kernel {kernel}";
        }

        public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
    }
}
