using Microsoft.Extensions.Logging;
using Npgsql;

namespace Mirror.Silo.Cluster;

/// <summary>This silo's identity in the membership table.</summary>
public sealed record SiloIdentity(string Id, string Address);

/// <summary>
/// Keeps this silo's row in <c>mirror_silos</c>: registers at start, heartbeats every
/// <see cref="ClusterTiming.HeartbeatInterval"/>, marks itself <c>leaving</c> when draining and deletes the row on a
/// graceful exit. A silo silent for <see cref="ClusterTiming.SiloTimeout"/> is dead to every reader.
/// </summary>
public sealed partial class SiloMembership(NpgsqlDataSource db, SiloIdentity self, ILogger<SiloMembership> logger)
{
    /// <summary>Inserts or refreshes this silo's row as active.</summary>
    public async Task RegisterAsync(CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("""
            insert into mirror_silos (silo_id, address, contract, status, started_at, heartbeat_at)
            values (@id, @a, @c, 'active', now(), now())
            on conflict (silo_id) do update set address = excluded.address, contract = excluded.contract, status = 'active', heartbeat_at = now()
            """);
        command.Parameters.AddWithValue("id", self.Id);
        command.Parameters.AddWithValue("a", self.Address);
        command.Parameters.AddWithValue("c", ClusterTiming.Contract);
        await command.ExecuteNonQueryAsync(cancellationToken);
        // Rows of silos dead for an hour are history, not membership.
        await using var sweep = db.CreateCommand("delete from mirror_silos where heartbeat_at < now() - interval '1 hour'");
        await sweep.ExecuteNonQueryAsync(cancellationToken);
        LogRegistered(logger, self.Id, self.Address);
    }

    /// <summary>Heartbeats until <paramref name="stopping"/>; a failed beat is logged and retried at the next tick.</summary>
    public async Task HeartbeatLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(ClusterTiming.HeartbeatInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    await using var command = db.CreateCommand("update mirror_silos set heartbeat_at = now() where silo_id = @id");
                    command.Parameters.AddWithValue("id", self.Id);
                    if (await command.ExecuteNonQueryAsync(stopping) == 0) await RegisterAsync(stopping);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException)
                {
                    LogHeartbeatFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Marks this silo as leaving: frontends stop sending it new keys while it finishes what it has.</summary>
    public async Task MarkLeavingAsync(CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("update mirror_silos set status = 'leaving', heartbeat_at = now() where silo_id = @id");
        command.Parameters.AddWithValue("id", self.Id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Deletes this silo's row (graceful exit).</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("delete from mirror_silos where silo_id = @id");
        command.Parameters.AddWithValue("id", self.Id);
        await command.ExecuteNonQueryAsync(cancellationToken);
        LogLeft(logger, self.Id);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} registered at {Address}")]
    private static partial void LogRegistered(ILogger logger, string siloId, string address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat failed: {Reason}")]
    private static partial void LogHeartbeatFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} left the cluster")]
    private static partial void LogLeft(ILogger logger, string siloId);
}

/// <summary>
/// The live silos as frontends (and silos) see them: re-read from PostgreSQL every
/// <see cref="ClusterTiming.MembershipRefresh"/>; when PostgreSQL cannot be reached the last good list is kept.
/// </summary>
public sealed partial class MembershipView(NpgsqlDataSource db, ILogger<MembershipView> logger)
{
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private IReadOnlyList<SiloInfo> _silos = [];
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;

    /// <summary>Opens a connection, proving PostgreSQL is reachable (throws otherwise).</summary>
    public async Task<NpgsqlConnection> ProbeAsync(CancellationToken cancellationToken) => await db.OpenConnectionAsync(cancellationToken);

    /// <summary>Live, active silos (cached for the refresh interval).</summary>
    public async Task<IReadOnlyList<SiloInfo>> GetLiveAsync(CancellationToken cancellationToken, bool force = false)
    {
        if (!force && DateTimeOffset.UtcNow - _readAt < ClusterTiming.MembershipRefresh) return _silos;
        await _refresh.WaitAsync(cancellationToken);
        try
        {
            if (!force && DateTimeOffset.UtcNow - _readAt < ClusterTiming.MembershipRefresh) return _silos;
            try
            {
                await using var command = db.CreateCommand("""
                    select silo_id, address, contract from mirror_silos
                     where status = 'active' and heartbeat_at > now() - @timeout
                     order by silo_id
                    """);
                command.Parameters.AddWithValue("timeout", ClusterTiming.SiloTimeout);
                var list = new List<SiloInfo>();
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken)) list.Add(new SiloInfo(reader.GetString(0), reader.GetString(1), reader.GetInt32(2)));
                _silos = list;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
            {
                LogStale(logger, _silos.Count, e.Message);
            }
            _readAt = DateTimeOffset.UtcNow;
            return _silos;
        }
        finally
        {
            _refresh.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Membership unreadable, keeping the last {Count} silos: {Reason}")]
    private static partial void LogStale(ILogger logger, int count, string reason);
}
