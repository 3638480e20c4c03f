namespace Mirror.Grains.Layers;

/// <summary>
/// Decides whether this process may fetch a digest from the upstream. In a cluster it is a lease in PostgreSQL
/// (owner, epoch, expiry); in embedded mode every fetch is allowed, since the process is the whole cluster.
/// </summary>
public interface IFetchGuard
{
    /// <summary>Takes the right to fetch <paramref name="digest"/>, or throws <see cref="NotOwnerException"/> naming who holds it.</summary>
    Task<IFetchLease> AcquireAsync(Digest digest, CancellationToken cancellationToken);
}

/// <summary>The right to fetch one digest; disposing it releases the right.</summary>
public interface IFetchLease : IAsyncDisposable
{
    /// <summary>Cancelled when the lease could not be kept (renewal failed past its expiry): the fetch must stop.</summary>
    CancellationToken Lost { get; }

    /// <summary>Confirms, right before commit, that this holder still owns the lease at its epoch; throws otherwise.</summary>
    Task EnsureHeldAsync(CancellationToken cancellationToken);
}

/// <summary>Another silo holds the lease for a digest (or this one is draining and takes no new fetches).</summary>
public sealed class NotOwnerException(string? ownerAddress, string message) : Exception(message)
{
    /// <summary>The owner's internal URL, when known.</summary>
    public string? OwnerAddress { get; } = ownerAddress;
}

/// <summary>Embedded mode: one process, so every fetch may go ahead.</summary>
public sealed class LocalFetchGuard : IFetchGuard
{
    /// <inheritdoc />
    public Task<IFetchLease> AcquireAsync(Digest digest, CancellationToken cancellationToken) => Task.FromResult<IFetchLease>(Lease.Instance);

    private sealed class Lease : IFetchLease
    {
        public static readonly Lease Instance = new();
        public CancellationToken Lost => CancellationToken.None;
        public Task EnsureHeldAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
