using Microsoft.Extensions.Logging;

namespace Mirror.Grains.Upstream;

/// <summary>The allow-list made concrete: one <see cref="UpstreamRegistry"/> per enabled, configured registry, and nothing else.</summary>
public sealed class UpstreamRegistries : IDisposable
{
    private readonly Dictionary<string, UpstreamRegistry> _registries = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Builds a client for every enabled upstream in <paramref name="options"/>.</summary>
    public UpstreamRegistries(MirrorOptions options, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger<UpstreamRegistry>();
        foreach (var name in options.Upstreams.Keys)
        {
            if (options.FindUpstreamOrNull(name) is not { Url: { } url } u) continue;
            _registries[name] = new UpstreamRegistry(name, new Uri(url), u.Username, u.Password, options.UpstreamTimeouts, logger);
        }
    }

    /// <summary>The client for <paramref name="registry"/>; throws DENIED when it is not on the allow-list.</summary>
    public UpstreamRegistry Get(string registry) =>
        _registries.TryGetValue(registry, out var r)
            ? r
            : throw new RegistryException(ErrorCode.Denied, $"registry '{registry}' is not mirrored here");

    /// <summary>Every configured registry.</summary>
    public IEnumerable<UpstreamRegistry> All => _registries.Values;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var r in _registries.Values) r.Dispose();
    }
}
