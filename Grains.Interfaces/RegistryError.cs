namespace Mirror.Grains;

/// <summary>The OCI distribution error codes, with the HTTP status each one is answered with.</summary>
/// <remarks>One table for the whole product; the frontend's error writer is the only place that renders it.</remarks>
public sealed record ErrorCode(string Code, int Status, string Message)
{
    /// <summary>Blob unknown to registry.</summary>
    public static readonly ErrorCode BlobUnknown = new("BLOB_UNKNOWN", 404, "blob unknown to registry");
    /// <summary>Provided digest did not match uploaded content, or is malformed.</summary>
    public static readonly ErrorCode DigestInvalid = new("DIGEST_INVALID", 400, "provided digest did not match uploaded content");
    /// <summary>Manifest invalid.</summary>
    public static readonly ErrorCode ManifestInvalid = new("MANIFEST_INVALID", 400, "manifest invalid");
    /// <summary>Manifest unknown.</summary>
    public static readonly ErrorCode ManifestUnknown = new("MANIFEST_UNKNOWN", 404, "manifest unknown");
    /// <summary>Invalid repository name.</summary>
    public static readonly ErrorCode NameInvalid = new("NAME_INVALID", 400, "invalid repository name");
    /// <summary>Repository name not known to registry.</summary>
    public static readonly ErrorCode NameUnknown = new("NAME_UNKNOWN", 404, "repository name not known to registry");
    /// <summary>Authentication required.</summary>
    public static readonly ErrorCode Unauthorized = new("UNAUTHORIZED", 401, "authentication required");
    /// <summary>Requested access to the resource is denied.</summary>
    public static readonly ErrorCode Denied = new("DENIED", 403, "requested access to the resource is denied");
    /// <summary>The operation is unsupported (a mirror takes no pushes or deletes).</summary>
    public static readonly ErrorCode Unsupported = new("UNSUPPORTED", 405, "the operation is unsupported");
    /// <summary>Too many requests.</summary>
    public static readonly ErrorCode TooManyRequests = new("TOOMANYREQUESTS", 429, "too many requests");
    /// <summary>Requested range not satisfiable.</summary>
    public static readonly ErrorCode RangeInvalid = new("RANGE_INVALID", 416, "requested range not satisfiable");
    /// <summary>Invalid request parameter (pagination and the like).</summary>
    public static readonly ErrorCode PaginationInvalid = new("PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested");
    /// <summary>The upstream registry could not be reached or timed out.</summary>
    public static readonly ErrorCode Unavailable = new("UNAVAILABLE", 503, "upstream registry unavailable");
    /// <summary>The upstream registry answered with something the mirror cannot use.</summary>
    public static readonly ErrorCode BadGateway = new("UNKNOWN", 502, "upstream registry sent an invalid response");
    /// <summary>Payload too large (a manifest over the size limit).</summary>
    public static readonly ErrorCode SizeInvalid = new("SIZE_INVALID", 400, "content size invalid");

    /// <summary>Finds a known code by its name (for errors passed through from an upstream).</summary>
    public static ErrorCode? FromCodeOrNull(string code) => code switch
    {
        "BLOB_UNKNOWN" => BlobUnknown,
        "DIGEST_INVALID" => DigestInvalid,
        "MANIFEST_INVALID" => ManifestInvalid,
        "MANIFEST_UNKNOWN" => ManifestUnknown,
        "NAME_INVALID" => NameInvalid,
        "NAME_UNKNOWN" => NameUnknown,
        "UNAUTHORIZED" => Unauthorized,
        "DENIED" => Denied,
        "UNSUPPORTED" => Unsupported,
        "TOOMANYREQUESTS" => TooManyRequests,
        _ => null,
    };
}

/// <summary>
/// An expected failure of a registry operation, carried to the HTTP layer and rendered as an OCI error body.
/// </summary>
public sealed class RegistryException(ErrorCode error, string? detail = null, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(detail is null ? error.Message : $"{error.Message}: {detail}", inner)
{
    /// <summary>The OCI error code and status.</summary>
    public ErrorCode Error { get; } = error;

    /// <summary>A human-readable detail, never a stack trace.</summary>
    public string? Detail { get; } = detail;

    /// <summary>When the upstream told us when to come back (429/503), how long.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>The <c>WWW-Authenticate</c> challenge to show the client on 401, if any.</summary>
    public string? Challenge { get; init; }
}
