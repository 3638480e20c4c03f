using System.Net;
using Mirror.Grains.Upstream;

namespace Mirror.Grains.Manifests;

/// <summary>Passes <c>tags/list</c> through to the repository's upstream (bounded in size).</summary>
public sealed class RepositoryGrain(RepositoryRef repository, UpstreamRegistries upstreams, MirrorMetrics metrics) : IRepositoryGrain
{
    private const int MaxTagListBytes = 16 * 1024 * 1024;

    /// <inheritdoc />
    public async Task<TagList?> ListTagsOrNullAsync(int? n, string? last, CancellationToken cancellationToken)
    {
        var upstream = upstreams.Get(repository.Registry);
        var query = new List<string>();
        if (n is { } count) query.Add($"n={count}");
        if (last is not null) query.Add($"last={Uri.EscapeDataString(last)}");
        var suffix = query.Count == 0 ? "tags/list" : $"tags/list?{string.Join('&', query)}";
        metrics.Add("mirror_upstream_requests_total", $"{MirrorMetrics.Label("registry", repository.Registry)},kind=\"tags_list\"");
        using var response = await upstream.SendAsync(HttpMethod.Get, repository.Repository, suffix, ["application/json"], null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        if (!response.IsSuccessStatusCode) throw await UpstreamRegistry.ToErrorAsync(response, ErrorCode.NameUnknown, cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var limited = new LimitedStream(body, MaxTagListBytes);
        using var memory = new MemoryStream();
        try { await limited.CopyToAsync(memory, cancellationToken); }
        catch (IOException e) { throw new RegistryException(ErrorCode.BadGateway, e.Message, inner: e); }
        var link = response.Headers.TryGetValues("Link", out var links) ? links.FirstOrDefault() : null;
        return new TagList(memory.ToArray(), link);
    }
}
