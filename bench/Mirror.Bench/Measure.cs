using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Mirror.IntegrationTests.Infrastructure;

namespace Mirror.Bench;

/// <summary>One HTTP download as curl saw it.</summary>
/// <param name="Status">HTTP status.</param>
/// <param name="Bytes">Body bytes received.</param>
/// <param name="FirstByte">Seconds from start to the first body byte.</param>
/// <param name="Total">Seconds from start to the last byte.</param>
internal sealed record Transfer(int Status, long Bytes, double FirstByte, double Total);

/// <summary>The load generators: curl for blob bodies (C, discards to /dev/null), wrk for request rates.</summary>
internal static partial class Measure
{
    private static readonly TimeSpan TransferTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Downloads <paramref name="url"/> to /dev/null and reports timing; throws unless 200 with <paramref name="expectedBytes"/>.</summary>
    public static async Task<Transfer> CurlAsync(Uri url, long expectedBytes)
    {
        var (code, output) = await ChildProcess.RunAsync("curl",
            ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_starttransfer} %{time_total}\n", url.ToString()],
            TransferTimeout);
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        var parts = line.Split(' ');
        if (code != 0 || parts.Length != 4) throw new InvalidOperationException($"curl {url}: exit {code}: {output}");
        var t = new Transfer(int.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture),
            double.Parse(parts[2], CultureInfo.InvariantCulture), double.Parse(parts[3], CultureInfo.InvariantCulture));
        if (t.Status != 200 || t.Bytes != expectedBytes)
            throw new InvalidOperationException($"curl {url}: status {t.Status}, {t.Bytes} of {expectedBytes} bytes");
        return t;
    }

    /// <summary><paramref name="count"/> concurrent downloads spread over <paramref name="urls"/>; returns the wall time in seconds.</summary>
    public static async Task<double> ConcurrentAsync(IReadOnlyList<Uri> urls, int count, long expectedBytes)
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, count).Select(i => CurlAsync(urls[i % urls.Count], expectedBytes)));
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>wrk result: requests per second, requests completed, non-2xx answers.</summary>
    public sealed record WrkResult(double RequestsPerSecond, long Requests, long Errors);

    /// <summary>Runs wrk with 2 threads and <paramref name="connections"/> connections for <paramref name="seconds"/>.</summary>
    public static async Task<WrkResult> WrkAsync(Uri url, string accept, int connections, int seconds)
    {
        var (code, output) = await ChildProcess.RunAsync("wrk",
            ["-t2", $"-c{connections}", $"-d{seconds}s", "-H", $"Accept: {accept}", url.ToString()],
            TimeSpan.FromSeconds(seconds + 60));
        var rps = RequestsPerSecond().Match(output);
        var total = RequestsTotal().Match(output);
        if (code != 0 || !rps.Success || !total.Success) throw new InvalidOperationException($"wrk {url}: exit {code}: {output}");
        var errors = NonSuccess().Match(output) is { Success: true } e ? long.Parse(e.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        return new WrkResult(double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture),
            long.Parse(total.Groups[1].Value, CultureInfo.InvariantCulture), errors);
    }

    /// <summary>Resets the peak resident set (VmHWM) of each process (see proc(5), clear_refs value 5).</summary>
    public static void ResetPeakRss(IEnumerable<int> pids)
    {
        foreach (var pid in pids)
        {
            try { File.WriteAllText($"/proc/{pid}/clear_refs", "5"); } catch (IOException) { }
        }
    }

    /// <summary>Peak resident set (VmHWM) of a process in MiB, or 0 when it is gone.</summary>
    public static double PeakRssMiB(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        catch (IOException) { }
        return 0;
    }

    /// <summary>CPU seconds (user + system) a process has used so far, from /proc/PID/stat; 0 when it is gone.</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields from the 3rd on; utime and stime are the 14th and 15th
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0; // USER_HZ
        }
        catch (IOException) { return 0; }
    }

    /// <summary>A process and its direct children (nginx's workers).</summary>
    public static IReadOnlyList<int> WithChildren(int pid)
    {
        var list = new List<int> { pid };
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            var children = File.ReadAllText(Path.Combine(task, "children"));
            list.AddRange(children.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse));
        }
        return list;
    }

    /// <summary>Median of a few samples.</summary>
    public static double Median(IReadOnlyList<double> samples)
    {
        var s = samples.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestsTotal();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex NonSuccess();
}
