using Microsoft.Extensions.Logging;
using Mirror.Grains;
using Mirror.Grains.Layers;
using Npgsql;

namespace Mirror.Silo.Cluster;

/// <summary>
/// Single activation of layer grains across the cluster: a silo must win a row in <c>mirror_leases</c> before it
/// fetches a digest. The row carries owner, epoch and expiry (PostgreSQL's clock, so silo clocks do not matter).
/// </summary>
/// <remarks>
/// <list type="number">
/// <item>Acquire: insert, or take over a row whose lease expired (epoch + 1). A live row of another silo means "not yours".</item>
/// <item>Renew every <see cref="ClusterTiming.LeaseRenewInterval"/>, only at the same owner and epoch and before expiry;
/// when that fails past the expiry, <see cref="IFetchLease.Lost"/> fires and the fetch stops.</item>
/// <item>Before commit, renew once more: a stale owner (expired, or taken over at a later epoch) gets an exception instead.</item>
/// <item>Release: delete the row at the owner's epoch.</item>
/// </list>
/// </remarks>
public sealed partial class PostgresLeases(NpgsqlDataSource db, SiloIdentity self, ILogger<PostgresLeases> logger) : IFetchGuard
{
    private ILogger Logger => logger;

    /// <inheritdoc />
    public async Task<IFetchLease> AcquireAsync(Digest digest, CancellationToken cancellationToken)
    {
        // Step 1.
        await using var command = db.CreateCommand("""
            insert into mirror_leases as l (digest, owner_id, owner_address, epoch, expires_at)
            values (@d, @o, @a, 1, now() + @ttl)
            on conflict (digest) do update
               set owner_id = excluded.owner_id, owner_address = excluded.owner_address,
                   epoch = l.epoch + 1, expires_at = excluded.expires_at
             where l.expires_at < now() or l.owner_id = excluded.owner_id
            returning epoch
            """);
        command.Parameters.AddWithValue("d", digest.ToString());
        command.Parameters.AddWithValue("o", self.Id);
        command.Parameters.AddWithValue("a", self.Address);
        command.Parameters.AddWithValue("ttl", ClusterTiming.LeaseDuration);
        var epoch = await command.ExecuteScalarAsync(cancellationToken);
        if (epoch is long e)
        {
            LogAcquired(logger, digest, e);
            return new Lease(this, digest, e);
        }
        await using var who = db.CreateCommand("select owner_address from mirror_leases where digest = @d");
        who.Parameters.AddWithValue("d", digest.ToString());
        var owner = await who.ExecuteScalarAsync(cancellationToken) as string;
        throw new NotOwnerException(owner, $"{digest} is leased by {owner ?? "another silo"}");
    }

    private async Task<bool> RenewAsync(Digest digest, long epoch, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            update mirror_leases set expires_at = now() + @ttl
             where digest = @d and owner_id = @o and epoch = @e and expires_at > now()
            """);
        command.Parameters.AddWithValue("d", digest.ToString());
        command.Parameters.AddWithValue("o", self.Id);
        command.Parameters.AddWithValue("e", epoch);
        command.Parameters.AddWithValue("ttl", ClusterTiming.LeaseDuration);
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }

    private async Task ReleaseAsync(Digest digest, long epoch)
    {
        await using var command = db.CreateCommand("delete from mirror_leases where digest = @d and owner_id = @o and epoch = @e");
        command.Parameters.AddWithValue("d", digest.ToString());
        command.Parameters.AddWithValue("o", self.Id);
        command.Parameters.AddWithValue("e", epoch);
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    /// <summary>Releases every lease this silo still holds (graceful shutdown; a crash leaves them to expire).</summary>
    public async Task ReleaseAllAsync(CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("delete from mirror_leases where owner_id = @o");
        command.Parameters.AddWithValue("o", self.Id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private sealed class Lease : IFetchLease
    {
        private readonly PostgresLeases _owner;
        private readonly Digest _digest;
        private readonly long _epoch;
        private readonly CancellationTokenSource _lost = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _renewal;

        public Lease(PostgresLeases owner, Digest digest, long epoch)
        {
            _owner = owner;
            _digest = digest;
            _epoch = epoch;
            _renewal = Task.Run(RenewLoopAsync);
        }

        public CancellationToken Lost => _lost.Token;

        // Step 2.
        private async Task RenewLoopAsync()
        {
            var heldUntil = DateTimeOffset.UtcNow + ClusterTiming.LeaseDuration;
            using var timer = new PeriodicTimer(ClusterTiming.LeaseRenewInterval);
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token))
                {
                    bool renewed;
                    try { renewed = await _owner.RenewAsync(_digest, _epoch, _stop.Token); }
                    catch (Exception e) when (e is NpgsqlException or TimeoutException)
                    {
                        LogRenewFailed(_owner.Logger, _digest, e.Message);
                        renewed = false;
                        // Unknown outcome: keep trying until the lease would have expired anyway.
                        if (DateTimeOffset.UtcNow < heldUntil - ClusterTiming.LeaseRenewInterval) continue;
                    }
                    if (!renewed)
                    {
                        LogLost(_owner.Logger, _digest, _epoch);
                        _lost.Cancel();
                        return;
                    }
                    heldUntil = DateTimeOffset.UtcNow + ClusterTiming.LeaseDuration;
                }
            }
            catch (OperationCanceledException) { }
        }

        // Step 3.
        public async Task EnsureHeldAsync(CancellationToken cancellationToken)
        {
            if (_lost.IsCancellationRequested || !await _owner.RenewAsync(_digest, _epoch, cancellationToken))
                throw new InvalidOperationException($"lease on {_digest} at epoch {_epoch} is no longer held: not committing");
        }

        // Step 4.
        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            try { await _renewal; } catch (OperationCanceledException) { }
            try { await _owner.ReleaseAsync(_digest, _epoch); }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogRenewFailed(_owner.Logger, _digest, $"release failed, the lease will expire: {e.Message}");
            }
            _lost.Dispose();
            _stop.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease on {Digest} acquired at epoch {Epoch}")]
    private static partial void LogAcquired(ILogger logger, Digest digest, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease renewal for {Digest} failed: {Reason}")]
    private static partial void LogRenewFailed(ILogger logger, Digest digest, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease on {Digest} at epoch {Epoch} lost: stopping the fetch, nothing will be committed")]
    private static partial void LogLost(ILogger logger, Digest digest, long epoch);
}
