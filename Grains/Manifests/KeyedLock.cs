namespace Mirror.Grains.Manifests;

/// <summary>Single flight per key within this process: one holder at a time, entries removed when unused.</summary>
public sealed class KeyedLock
{
    private readonly Dictionary<string, (SemaphoreSlim Gate, int Users)> _locks = new();

    /// <summary>Waits for the key's turn; dispose the result to release it.</summary>
    public async Task<IDisposable> AcquireAsync(string key, CancellationToken cancellationToken)
    {
        SemaphoreSlim gate;
        lock (_locks)
        {
            var entry = _locks.TryGetValue(key, out var e) ? e : (new SemaphoreSlim(1, 1), 0);
            _locks[key] = (entry.Item1, entry.Item2 + 1);
            gate = entry.Item1;
        }
        try
        {
            await gate.WaitAsync(cancellationToken);
        }
        catch
        {
            Leave(key);
            throw;
        }
        return new Releaser(this, key, gate);
    }

    private void Leave(string key)
    {
        lock (_locks)
        {
            var (gate, users) = _locks[key];
            if (users == 1) _locks.Remove(key);
            else _locks[key] = (gate, users - 1);
        }
    }

    private sealed class Releaser(KeyedLock owner, string key, SemaphoreSlim gate) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) return;
            gate.Release();
            owner.Leave(key);
        }
    }
}
