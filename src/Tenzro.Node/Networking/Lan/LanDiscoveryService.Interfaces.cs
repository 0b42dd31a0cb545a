using System.Net.Sockets;

namespace Tenzro.Node.Networking.Lan;

/// <summary>The interfaces: scanning, joining the mDNS groups on each, and the per-interface state the status reports.</summary>
internal sealed partial class LanDiscoveryService
{
    /// <summary>Finds the interfaces as they are now: joins new ones, leaves those gone; returns the new or changed ones (to announce on).</summary>
    private List<InterfaceState> Rescan()
    {
        var scanned = LanInterface.Scan();
        var fresh = new List<InterfaceState>();
        lock (_lock)
        {
            foreach (var gone in _interfaces.Values.Where(s => scanned.All(n => n.Index != s.Nic.Index)).ToList())
            {
                foreach (var socket in _sockets.Where(gone.JoinedOn))
                {
                    socket.Leave(gone.Nic.Index);
                }

                _interfaces.Remove(gone.Nic.Index);
            }

            foreach (var nic in scanned)
            {
                if (_interfaces.TryGetValue(nic.Index, out var known) && known.Nic.SameAs(nic))
                {
                    continue;
                }

                var state = known ?? new InterfaceState(nic);
                state.Nic = nic;
                _interfaces[nic.Index] = state;
                Join(state);
                fresh.Add(state);
            }
        }

        return fresh;
    }

    private void Join(InterfaceState state)
    {
        if (state.Nic.Problem is { } problem)
        {
            state.JoinError = problem;
            LogInterfaceFailed(_logger, state.Nic.Name, problem);
            return;
        }

        var errors = new List<string>();
        foreach (var socket in _sockets)
        {
            var addresses = socket.IsV4 ? state.Nic.V4 : state.Nic.V6;
            if (addresses.Count == 0 || state.JoinedOn(socket))
            {
                continue;
            }

            try
            {
                socket.Join(state.Nic.Index);
                state.Joined.Add(socket.Family);
            }
            catch (SocketException e)
            {
                errors.Add($"joining {(socket.IsV4 ? "224.0.0.251" : "ff02::fb")} failed: {e.Message}");
            }
        }

        state.JoinError = errors.Count == 0 ? null : string.Join("; ", errors);
        if (state.JoinError is not null)
        {
            LogInterfaceFailed(_logger, state.Nic.Name, state.JoinError);
        }
        else
        {
            LogInterfaceJoined(_logger, state.Nic.Name, string.Join(", ", state.Nic.Addresses));
        }
    }

    private List<InterfaceState> Joined()
    {
        lock (_lock)
        {
            return [.. _interfaces.Values.Where(s => s.Joined.Count > 0)];
        }
    }

    private string InterfaceName(int index)
    {
        lock (_lock)
        {
            return _interfaces.TryGetValue(index, out var state) ? state.Nic.Name : "if" + index;
        }
    }

    /// <summary>One interface: the group memberships held on it and why one failed. Changed under the service's lock.</summary>
    private sealed class InterfaceState(LanInterface nic)
    {
        public LanInterface Nic { get; set; } = nic;

        public HashSet<AddressFamily> Joined { get; } = [];

        public string? JoinError { get; set; }

        public string? SendError { get; set; }

        public bool JoinedAny => Joined.Count > 0;

        public string? Error => JoinError ?? SendError;

        public bool JoinedOn(LanSocket socket) => Joined.Contains(socket.Family);
    }
}
