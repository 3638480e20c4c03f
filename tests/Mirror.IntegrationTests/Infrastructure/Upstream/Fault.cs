using System.Net;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// Something a <see cref="FaultProxy"/> does to requests instead of, or on top of, forwarding them faithfully.
/// Body faults (<see cref="FlipByte"/>, <see cref="Truncate"/>, <see cref="Throttle"/>) and <see cref="Hold"/> apply to
/// GET requests only; <see cref="Fail"/> and <see cref="Down"/> apply to every method.
/// </summary>
public abstract record Fault
{
    /// <summary>How many requests the fault affects before it clears itself; null (default) until it is cleared.</summary>
    public int? Times { get; init; }

    /// <summary>Forward the body with the byte at <paramref name="offset"/> inverted; length and headers unchanged.</summary>
    public static Fault FlipByte(long offset) => new FlipByteFault(offset);

    /// <summary>Send the headers (with the full Content-Length) and <paramref name="afterBytes"/> bytes, then abort the connection.</summary>
    public static Fault Truncate(long afterBytes) => new TruncateFault(afterBytes);

    /// <summary>Send the body no faster than <paramref name="bytesPerSecond"/>.</summary>
    public static Fault Throttle(long bytesPerSecond) => new ThrottleFault(bytesPerSecond);

    /// <summary>Answer <paramref name="status"/> with an OCI error body (<paramref name="code"/>, default from the status) without asking the upstream.</summary>
    public static Fault Fail(HttpStatusCode status, string? code = null) => new FailFault(status, code);

    /// <summary>Close the connection without an answer, as a crashed upstream would (use <see cref="Fail"/> with 503 for an answering one).</summary>
    public static Fault Down() => new DownFault();

    /// <summary>Wait for <paramref name="release"/> before forwarding (pair with <see cref="FaultProxy.WaitForRequestAsync"/> to stage races).</summary>
    public static Fault Hold(Task release) => new HoldFault(release);

    /// <summary>Forward the body faithfully but without Content-Length (chunked), as some CDNs send blobs.</summary>
    public static Fault Chunked() => new ChunkedFault();
}

/// <summary>See <see cref="Fault.FlipByte"/>.</summary>
public sealed record FlipByteFault(long Offset) : Fault;

/// <summary>See <see cref="Fault.Truncate"/>.</summary>
public sealed record TruncateFault(long AfterBytes) : Fault;

/// <summary>See <see cref="Fault.Throttle"/>.</summary>
public sealed record ThrottleFault(long BytesPerSecond) : Fault;

/// <summary>See <see cref="Fault.Fail"/>.</summary>
public sealed record FailFault(HttpStatusCode Status, string? Code) : Fault;

/// <summary>See <see cref="Fault.Down"/>.</summary>
public sealed record DownFault : Fault;

/// <summary>See <see cref="Fault.Chunked"/>.</summary>
public sealed record ChunkedFault : Fault;

/// <summary>See <see cref="Fault.Hold"/>.</summary>
public sealed record HoldFault(Task Release) : Fault;

/// <summary>A request as the <see cref="FaultProxy"/> received it.</summary>
/// <param name="Sequence">Arrival order, from 1.</param>
/// <param name="Method">HTTP method.</param>
/// <param name="Path">Path, e.g. /v2/library/app/blobs/sha256:….</param>
/// <param name="Query">Query string including '?', or "".</param>
/// <param name="Authorization">The Authorization header, or null.</param>
/// <param name="Range">The Range header, or null.</param>
/// <param name="Fault">The fault applied to it, or null.</param>
public sealed record ProxiedRequest(long Sequence, string Method, string Path, string Query, string? Authorization, string? Range, Fault? Fault);
