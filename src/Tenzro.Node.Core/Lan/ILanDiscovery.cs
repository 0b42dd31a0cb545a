namespace Tenzro.Node.Core.Lan;

/// <summary>One network interface as LAN discovery sees it: its addresses, whether the multicast group is joined there, and why not.</summary>
public sealed record LanInterfaceStatus(string Name, IReadOnlyList<string> Addresses, bool Joined, string? Error);

/// <summary>The <c>lan</c> part of <c>/api/network/status</c> (CONTRACTS "API additions").</summary>
public sealed record LanStatus(bool Enabled, string State, IReadOnlyList<LanInterfaceStatus> Interfaces, int Peers)
{
    public const string Off = "off";
    public const string Running = "running";
    public const string Failed = "failed";
}

/// <summary>LAN discovery as the API sees it; the host's mDNS service implements it.</summary>
/// <remarks>Implementations are thread-safe.</remarks>
public interface ILanDiscovery
{
    LanStatus Status();
}
