using Mirror.Grains;

namespace Mirror.Frontend.Routing;

/// <summary>What a <c>/v2/…</c> request asks for.</summary>
public enum RouteKind
{
    /// <summary><c>/v2/</c>: the API version check.</summary>
    Base,
    /// <summary><c>/v2/&lt;name&gt;/manifests/&lt;reference&gt;</c>.</summary>
    Manifest,
    /// <summary><c>/v2/&lt;name&gt;/blobs/&lt;digest&gt;</c>.</summary>
    Blob,
    /// <summary><c>/v2/&lt;name&gt;/tags/list</c>.</summary>
    TagList,
    /// <summary><c>/v2/&lt;name&gt;/blobs/uploads/…</c> and other push-side paths: never supported by a mirror.</summary>
    Push,
}

/// <summary>A parsed request path: the registry it is for, the repository, and the reference.</summary>
/// <param name="Kind">What is asked for.</param>
/// <param name="Repository">Registry and repository (null for <see cref="RouteKind.Base"/>).</param>
/// <param name="Reference">Tag or digest text for manifests, digest text for blobs.</param>
/// <param name="ClientName">The name exactly as the client wrote it (with a registry prefix when it used one).</param>
/// <param name="Namespace">The <c>ns</c> query parameter when the client routed with it.</param>
public sealed record RegistryRoute(RouteKind Kind, RepositoryRef? Repository, string? Reference, string? ClientName, string? Namespace);

/// <summary>
/// Parses <c>/v2/…</c> paths. Three ways to name the registry, all on one port:
/// <list type="number">
/// <item>plain <c>/v2/&lt;name&gt;/…</c> means docker.io (what Docker Engine sends);</item>
/// <item><c>?ns=&lt;registry&gt;</c> names the registry (what containerd sends for every mirrored host);</item>
/// <item>a first path component with a <c>.</c> or <c>:</c> (or <c>localhost</c>) is a registry: <c>/v2/ghcr.io/org/app/…</c>,
/// unless <c>ns</c> names a different registry (then it belongs to the repository).</item>
/// </list>
/// A one-component docker.io name gets <c>library/</c>. Names are checked against the spec's grammar and length.
/// </summary>
public static class RegistryPath
{
    /// <summary>The default registry for names without one.</summary>
    public const string DockerHub = "docker.io";

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["index.docker.io"] = DockerHub,
        ["registry-1.docker.io"] = DockerHub,
        ["registry.hub.docker.com"] = DockerHub,
        ["docker.io"] = DockerHub,
    };

    /// <summary>Parses the part of the path after <c>/v2/</c>. Throws <see cref="RegistryException"/> for a malformed request.</summary>
    public static RegistryRoute Parse(string pathAfterV2, string? ns)
    {
        if (pathAfterV2.Length == 0) return new RegistryRoute(RouteKind.Base, null, null, null, null);
        var path = pathAfterV2.EndsWith('/') && pathAfterV2.Length > 1 ? pathAfterV2[..^1] : pathAfterV2;

        RouteKind kind;
        string name;
        string? reference = null;
        if (path.EndsWith("/tags/list", StringComparison.Ordinal))
        {
            kind = RouteKind.TagList;
            name = path[..^"/tags/list".Length];
        }
        else if (LastSegmentAfter(path, "/manifests/") is { } m)
        {
            kind = RouteKind.Manifest;
            (name, reference) = m;
        }
        else if (path.Contains("/blobs/uploads", StringComparison.Ordinal))
        {
            kind = RouteKind.Push;
            name = path[..path.IndexOf("/blobs/uploads", StringComparison.Ordinal)];
        }
        else if (LastSegmentAfter(path, "/blobs/") is { } b)
        {
            kind = RouteKind.Blob;
            (name, reference) = b;
        }
        else
        {
            throw new RegistryException(ErrorCode.NameUnknown, "no such endpoint");
        }

        var repository = ResolveName(name, ns);
        if (kind == RouteKind.Manifest && !(Names.IsValidTag(reference!) || Digest.TryParse(reference, out _)))
        {
            throw reference!.Contains(':')
                ? new RegistryException(ErrorCode.DigestInvalid, "invalid digest")
                : new RegistryException(ErrorCode.ManifestInvalid, "invalid tag");
        }
        if (kind == RouteKind.Blob && !Digest.TryParse(reference, out _))
            throw new RegistryException(ErrorCode.DigestInvalid, "invalid digest");
        return new RegistryRoute(kind, repository, reference, name, string.IsNullOrEmpty(ns) ? null : ns);
    }

    /// <summary>Resolves a client-written name and optional <c>ns</c> into a registry and repository.</summary>
    public static RepositoryRef ResolveName(string name, string? ns)
    {
        if (name.Length is 0 or > Names.MaxRepositoryLength) throw new RegistryException(ErrorCode.NameInvalid, "invalid repository name");
        string registry;
        string repository;
        var slash = name.IndexOf('/');
        var first = slash < 0 ? name : name[..slash];
        // With ?ns= the client (containerd) has named the registry, and the path is a repository in it, whose first
        // component may well contain a dot (gcr.io/google.com/cloudsdktool/…, Harbor projects). It is only a
        // registry prefix when it repeats the ns registry (a hosts.toml with override_path into the prefix form).
        var isPrefix = slash > 0 && (first.Contains('.') || first.Contains(':') || first == "localhost")
                       && (string.IsNullOrEmpty(ns) || Canonical(first) == Canonical(ns));
        if (isPrefix)
        {
            registry = first;
            repository = name[(slash + 1)..];
        }
        else
        {
            registry = string.IsNullOrEmpty(ns) ? DockerHub : ns;
            repository = name;
        }
        registry = Canonical(registry);
        if (!Names.IsValidRegistry(registry)) throw new RegistryException(ErrorCode.NameInvalid, "invalid registry name");
        if (!Names.IsValidRepository(repository)) throw new RegistryException(ErrorCode.NameInvalid, "invalid repository name");
        if (registry == DockerHub && !repository.Contains('/')) repository = "library/" + repository;
        return new RepositoryRef(registry, repository);
    }

    /// <summary>Lower case, with Docker Hub's aliases folded into <c>docker.io</c>.</summary>
    private static string Canonical(string registry)
    {
        var lower = registry.ToLowerInvariant();
        return Aliases.TryGetValue(lower, out var canonical) ? canonical : lower;
    }

    private static (string Name, string Last)? LastSegmentAfter(string path, string marker)
    {
        var i = path.LastIndexOf(marker, StringComparison.Ordinal);
        if (i <= 0) return null;
        var last = path[(i + marker.Length)..];
        if (last.Length == 0 || last.Contains('/')) return null;
        return (path[..i], last);
    }
}
