namespace Mirror.Grains;

/// <summary>The <c>Mirror</c> configuration section. Every key is documented in README.md.</summary>
public sealed class MirrorOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Mirror";

    /// <summary><c>Mirror:CacheDirectory</c>: the disk cache (embedded mode) or the local spool (cluster).</summary>
    public string CacheDirectory { get; set; } = "mirror-cache";

    /// <summary><c>Mirror:TagTtl</c>: how long a tag's answer is served without asking the upstream.</summary>
    public TimeSpan TagTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary><c>Mirror:Upstreams:&lt;registry&gt;</c>: the allow-list of registries the mirror serves.</summary>
    public Dictionary<string, UpstreamOptions> Upstreams { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary><c>Mirror:Storage</c>: where verified blobs live.</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary><c>Mirror:Cluster</c>: PostgreSQL for membership, leases and the shared tag cache.</summary>
    public ClusterOptions Cluster { get; set; } = new();

    /// <summary><c>Mirror:Silo</c>: this silo's own settings.</summary>
    public SiloOptions Silo { get; set; } = new();

    /// <summary><c>Mirror:UpstreamTimeouts</c>: connect and idle limits for upstream calls.</summary>
    public UpstreamTimeoutOptions UpstreamTimeouts { get; set; } = new();

    /// <summary><c>Mirror:ShutdownDrainSeconds</c>: how long SIGTERM waits for in-flight work.</summary>
    public int ShutdownDrainSeconds { get; set; } = 60;

    /// <summary>Built-in upstreams; configuration overrides any field or disables an entry with <c>Enabled=false</c>.</summary>
    public static readonly IReadOnlyDictionary<string, string> BuiltInUpstreams = new Dictionary<string, string>
    {
        ["docker.io"] = "https://registry-1.docker.io",
        ["ghcr.io"] = "https://ghcr.io",
        ["quay.io"] = "https://quay.io",
        ["registry.k8s.io"] = "https://registry.k8s.io",
        ["gcr.io"] = "https://gcr.io",
    };

    /// <summary>Fills built-in upstreams and checks every setting; returns one message per problem, naming the key.</summary>
    public IReadOnlyList<string> Normalize()
    {
        var errors = new List<string>();
        foreach (var (name, url) in BuiltInUpstreams)
        {
            if (!Upstreams.TryGetValue(name, out var u)) Upstreams[name] = u = new UpstreamOptions();
            u.Url ??= url;
        }
        foreach (var (name, u) in Upstreams)
        {
            var key = $"Mirror:Upstreams:{name}";
            if (!Names.IsValidRegistry(name)) errors.Add($"{key}: '{name}' is not a registry host name.");
            if (u.Url is null || !Uri.TryCreate(u.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                errors.Add($"{key}:Url: '{u.Url}' is not an absolute http(s) URL.");
            if (u.Username is not null && u.Password is null) errors.Add($"{key}:Password: required when {key}:Username is set.");
        }
        if (TagTtl <= TimeSpan.Zero) errors.Add($"Mirror:TagTtl: must be positive (got '{TagTtl}').");
        if (string.IsNullOrWhiteSpace(CacheDirectory)) errors.Add("Mirror:CacheDirectory: must not be empty.");
        if (ShutdownDrainSeconds < 0) errors.Add("Mirror:ShutdownDrainSeconds: must not be negative.");
        if (UpstreamTimeouts.Connect <= TimeSpan.Zero) errors.Add("Mirror:UpstreamTimeouts:Connect: must be positive.");
        if (UpstreamTimeouts.Idle <= TimeSpan.Zero) errors.Add("Mirror:UpstreamTimeouts:Idle: must be positive.");
        errors.AddRange(Storage.Validate());
        if (Cluster.ConnectionString is { Length: 0 }) Cluster.ConnectionString = null;
        return errors;
    }

    /// <summary>The enabled upstream for a registry name, or null when it is not on the allow-list.</summary>
    public UpstreamOptions? FindUpstreamOrNull(string registry) =>
        Upstreams.TryGetValue(registry, out var u) && u.Enabled ? u : null;
}

/// <summary>One upstream registry.</summary>
public sealed class UpstreamOptions
{
    /// <summary><c>Url</c>: the registry's base URL (scheme, host, optional port).</summary>
    public string? Url { get; set; }

    /// <summary><c>Username</c>: for Basic auth or the token endpoint (optional).</summary>
    public string? Username { get; set; }

    /// <summary><c>Password</c>: goes with <see cref="Username"/>.</summary>
    public string? Password { get; set; }

    /// <summary><c>Enabled</c>: false removes a built-in registry from the allow-list.</summary>
    public bool Enabled { get; set; } = true;
}

/// <summary>Blob storage backend.</summary>
public sealed class StorageOptions
{
    /// <summary><c>Mirror:Storage:Kind</c>: <c>FileSystem</c> (default) or <c>S3</c>.</summary>
    public string Kind { get; set; } = "FileSystem";

    /// <summary><c>Mirror:Storage:S3</c>.</summary>
    public S3Options S3 { get; set; } = new();

    /// <summary>True when blobs go to S3.</summary>
    public bool IsS3 => string.Equals(Kind, "S3", StringComparison.OrdinalIgnoreCase);

    internal IEnumerable<string> Validate()
    {
        if (!IsS3 && !string.Equals(Kind, "FileSystem", StringComparison.OrdinalIgnoreCase))
        {
            yield return $"Mirror:Storage:Kind: '{Kind}' is not FileSystem or S3.";
            yield break;
        }
        if (!IsS3) yield break;
        if (S3.ServiceUrl is not null && !Uri.TryCreate(S3.ServiceUrl, UriKind.Absolute, out _))
            yield return $"Mirror:Storage:S3:ServiceUrl: '{S3.ServiceUrl}' is not an absolute URL.";
        if (S3.Bucket is null || S3.Bucket.Length is < 3 or > 63) yield return "Mirror:Storage:S3:Bucket: required, 3 to 63 characters.";
        if (S3.AccessKey is null != S3.SecretKey is null) yield return "Mirror:Storage:S3:SecretKey: AccessKey and SecretKey go together.";
    }
}

/// <summary>S3-compatible storage (MinIO, AWS S3, ...).</summary>
public sealed class S3Options
{
    /// <summary><c>ServiceUrl</c>: endpoint, e.g. http://minio:9000 (empty for AWS).</summary>
    public string? ServiceUrl { get; set; }
    /// <summary><c>Bucket</c>.</summary>
    public string? Bucket { get; set; }
    /// <summary><c>AccessKey</c>.</summary>
    public string? AccessKey { get; set; }
    /// <summary><c>SecretKey</c>.</summary>
    public string? SecretKey { get; set; }
    /// <summary><c>Region</c>.</summary>
    public string Region { get; set; } = "us-east-1";
    /// <summary><c>ForcePathStyle</c>: path-style addressing (MinIO and most S3-compatible stores need it).</summary>
    public bool ForcePathStyle { get; set; } = true;
    /// <summary><c>RedirectBlobs</c>: answer cached blob GETs with 307 to a presigned URL (CDN-origin mode).</summary>
    public bool RedirectBlobs { get; set; }
    /// <summary><c>KeyPrefix</c>: prefix of every object key.</summary>
    public string KeyPrefix { get; set; } = "";
}

/// <summary>Cluster membership and directory.</summary>
public sealed class ClusterOptions
{
    /// <summary><c>Mirror:Cluster:ConnectionString</c>: PostgreSQL; absent means embedded single-process mode.</summary>
    public string? ConnectionString { get; set; }
}

/// <summary>Silo settings.</summary>
public sealed class SiloOptions
{
    /// <summary><c>Mirror:Silo:AdvertisedUrl</c>: the URL other processes reach this silo on (default: from --urls).</summary>
    public string? AdvertisedUrl { get; set; }
}

/// <summary>Upstream timeouts.</summary>
public sealed class UpstreamTimeoutOptions
{
    /// <summary><c>Connect</c>: TCP+TLS connect limit.</summary>
    public TimeSpan Connect { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary><c>Idle</c>: longest wait for response headers or for the next body bytes.</summary>
    public TimeSpan Idle { get; set; } = TimeSpan.FromSeconds(60);
}
