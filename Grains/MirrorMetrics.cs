using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Mirror.Grains;

/// <summary>
/// Counters rendered in the Prometheus text format at <c>/metrics</c> (prometheus-net is not available here).
/// Names follow Prometheus conventions; labels are pre-rendered strings such as <c>registry="docker.io"</c>.
/// </summary>
public sealed class MirrorMetrics
{
    private readonly ConcurrentDictionary<(string Name, string Labels), StrongBox<long>> _counters = new();
    private readonly ConcurrentDictionary<string, Func<double>> _gauges = new();

    /// <summary>Adds <paramref name="by"/> to a counter.</summary>
    public void Add(string name, string labels = "", long by = 1) =>
        Interlocked.Add(ref _counters.GetOrAdd((name, labels), _ => new StrongBox<long>()).Value, by);

    /// <summary>The current value of a counter (0 when never touched).</summary>
    public long Get(string name, string labels = "") =>
        _counters.TryGetValue((name, labels), out var box) ? Interlocked.Read(ref box.Value) : 0;

    /// <summary>Registers a gauge read at scrape time.</summary>
    public void Gauge(string name, Func<double> read) => _gauges[name] = read;

    /// <summary>Writes every counter and gauge in the Prometheus text exposition format.</summary>
    public void Render(TextWriter writer)
    {
        foreach (var group in _counters.OrderBy(c => c.Key.Name).ThenBy(c => c.Key.Labels).GroupBy(c => c.Key.Name))
        {
            writer.Write("# TYPE "); writer.Write(group.Key); writer.Write(" counter\n");
            foreach (var (key, box) in group)
            {
                writer.Write(key.Name);
                if (key.Labels.Length > 0) { writer.Write('{'); writer.Write(key.Labels); writer.Write('}'); }
                writer.Write(' ');
                writer.Write(Interlocked.Read(ref box.Value).ToString(CultureInfo.InvariantCulture));
                writer.Write('\n');
            }
        }
        foreach (var (name, read) in _gauges.OrderBy(g => g.Key))
        {
            writer.Write($"# TYPE {name} gauge\n{name} {read().ToString(CultureInfo.InvariantCulture)}\n");
        }
    }

    /// <summary>Renders a label value safely.</summary>
    public static string Label(string name, string value) =>
        $"{name}=\"{value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")}\"";
}
