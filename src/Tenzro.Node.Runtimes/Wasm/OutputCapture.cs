using System.Buffers;
using System.Text;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// Keeps the first <c>limit</c> bytes a module writes to stdout or stderr, in memory (nothing reaches the
/// disk). A write past the limit keeps what fits, marks the capture <see cref="Overflowed"/> and throws,
/// which closes the stream for the guest; the execution then stops the module at the next epoch.
/// </summary>
/// <remarks>Wasmtime calls <see cref="Write"/> on its own thread while the guest waits; writes never overlap.</remarks>
internal sealed class OutputCapture(string name, int limit)
{
    private readonly ArrayBufferWriter<byte> _buffer = new();
    private volatile bool _overflowed;

    /// <summary>"stdout" or "stderr".</summary>
    public string Name { get; } = name;

    public int Limit { get; } = limit;

    public bool Overflowed => _overflowed;

    public void Write(ReadOnlySpan<byte> data)
    {
        if (_overflowed)
        {
            throw new IOException($"{Name} is closed: the module wrote more than {Limit} bytes");
        }

        var room = Limit - _buffer.WrittenCount;
        if (data.Length <= room)
        {
            _buffer.Write(data);
            return;
        }

        _buffer.Write(data[..room]);
        _overflowed = true;
        throw new IOException($"{Name} is closed: the module wrote more than {Limit} bytes");
    }

    /// <summary>The captured bytes as UTF-8 text (invalid sequences become U+FFFD).</summary>
    public string Text() => Encoding.UTF8.GetString(_buffer.WrittenSpan);
}
