namespace Tenzro.Node.Tests.Runtimes.Wasm;

/// <summary>Small modules in WebAssembly text that exercise one behaviour each.</summary>
internal static class WasmModules
{
    public const string Add = """(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))""";

    public const string Spin = """(module (func (export "spin") (loop br 0)))""";

    public const string Recurse = """(module (func $f (export "f") (call $f)))""";

    public const string UnknownImport = """(module (import "env" "foo" (func)) (func (export "f")))""";

    public const string Unreachable = """(module (func (export "f") unreachable))""";

    public const string BigInitialMemory = """(module (memory (export "memory") 1000) (func (export "f")))""";

    /// <summary>Grows memory by 512 pages (32 MB) and traps when the grow is refused, as an allocator would.</summary>
    public const string Grow = """
        (module (memory (export "memory") 1)
          (func (export "grow") (result i32)
            (if (i32.eq (memory.grow (i32.const 512)) (i32.const -1)) (then unreachable))
            (memory.size)))
        """;

    /// <summary>"mkdirs" makes the empty directories /scratch/00000000, /scratch/00000001, … until one fails; returns how many it made.</summary>
    public const string MakeDirectories = """
        (module
          (import "wasi_snapshot_preview1" "path_create_directory" (func $mkdir (param i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "mkdirs") (result i32) (local $i i32) (local $n i32) (local $k i32)
            (loop $next
              (local.set $n (local.get $i))
              (local.set $k (i32.const 7))
              (loop $digit
                (i32.store8 (i32.add (i32.const 100) (local.get $k)) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
                (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
                (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                (br_if $digit (i32.ge_s (local.get $k) (i32.const 0))))
              (if (call $mkdir (i32.const 3) (i32.const 100) (i32.const 8)) (then (return (local.get $i))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $next))
            (i32.const 0)))
        """;

    public const string Values = """
        (module
          (func (export "big") (result i64) (i64.const 9007199254740993))
          (func (export "safe") (result i64) (i64.const -9007199254740992))
          (func (export "nan") (result f64) (f64.const nan))
          (func (export "inf") (result f32) (f32.const -inf))
          (func (export "tenth") (result f32) (f32.const 0.1))
          (func (export "pair") (result i32 f64) (i32.const -1) (f64.const 2.5))
          (func (export "none"))
          (func (export "id64") (param i64) (result i64) (local.get 0))
          (func (export "idf64") (param f64) (result f64) (local.get 0))
          (func (export "u32") (param i32) (result i32) (local.get 0))
          (func (export "vec") (result v128) (v128.const i32x4 0 0 0 0)))
        """;

    /// <summary>A WASI command: "hello\n" to stdout, "to stderr" to stderr, then stdin copied to stdout.</summary>
    public const string Echo = """
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 64) "hello\n")
          (data (i32.const 80) "to stderr")
          (func $write (param $fd i32) (param $ptr i32) (param $len i32)
            (i32.store (i32.const 0) (local.get $ptr))
            (i32.store (i32.const 4) (local.get $len))
            (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
          (func (export "_start") (local $n i32)
            (call $write (i32.const 1) (i32.const 64) (i32.const 6))
            (call $write (i32.const 2) (i32.const 80) (i32.const 9))
            (block $done
              (loop $copy
                (i32.store (i32.const 16) (i32.const 1024))
                (i32.store (i32.const 20) (i32.const 4096))
                (br_if $done (call $fd_read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))
                (local.set $n (i32.load (i32.const 24)))
                (br_if $done (i32.eqz (local.get $n)))
                (call $write (i32.const 1) (i32.const 1024) (local.get $n))
                (br $copy)))))
        """;

    /// <summary>A WASI command that prints its argv and environment buffers and exits with the variable count.</summary>
    public const string ArgsAndEnvironment = """
        (module
          (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
          (memory (export "memory") 1)
          (func $write (param $ptr i32) (param $len i32)
            (i32.store (i32.const 0) (local.get $ptr))
            (i32.store (i32.const 4) (local.get $len))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
          (func (export "_start")
            (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
            (drop (call $args_get (i32.const 1024) (i32.const 4096)))
            (call $write (i32.const 4096) (i32.load (i32.const 20)))
            (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
            (drop (call $environ_get (i32.const 2048) (i32.const 8192)))
            (call $write (i32.const 8192) (i32.load (i32.const 20)))
            (call $proc_exit (i32.load (i32.const 16)))))
        """;

    /// <summary>A WASI command that writes 64 KiB to stdout forever, ignoring errors.</summary>
    public const string Flood = """
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 2)
          (func (export "_start")
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 65536))
            (loop $forever
              (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
              (br $forever))))
        """;

    /// <summary>Returns the WASI errno of clock_time_get and random_get.</summary>
    public const string ClockAndRandom = """
        (module
          (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
          (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "clock") (result i32) (call $clock (i32.const 0) (i64.const 1) (i32.const 0)))
          (func (export "random") (result i32) (call $random (i32.const 0) (i32.const 16))))
        """;

    /// <summary>Sleeps through poll_oneoff on one relative monotonic clock subscription; returns the errno.</summary>
    public const string Sleep = """
        (module
          (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "sleep") (param $ns i64) (result i32)
            (i64.store (i32.const 0) (i64.const 42))
            (i32.store8 (i32.const 8) (i32.const 0))
            (i32.store (i32.const 16) (i32.const 1))
            (i64.store (i32.const 24) (local.get $ns))
            (i64.store (i32.const 32) (i64.const 0))
            (i32.store16 (i32.const 40) (i32.const 0))
            (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))))
        """;

    /// <summary>Opens /scratch/out.txt (preopened fd 3); "write" writes 7 bytes, "fill" writes forever. Returns an errno.</summary>
    public const string Scratch = """
        (module
          (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 2)
          (data (i32.const 100) "out.txt")
          (func $open (result i32)
            (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 7) (i32.const 1)
              (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 200)))
          (func (export "write") (result i32) (local $e i32)
            (local.set $e (call $open))
            (if (local.get $e) (then (return (local.get $e))))
            (i32.store (i32.const 0) (i32.const 100))
            (i32.store (i32.const 4) (i32.const 7))
            (call $fd_write (i32.load (i32.const 200)) (i32.const 0) (i32.const 1) (i32.const 8)))
          (func (export "fill") (result i32) (local $e i32)
            (local.set $e (call $open))
            (if (local.get $e) (then (return (local.get $e))))
            (i32.store (i32.const 0) (i32.const 1024))
            (i32.store (i32.const 4) (i32.const 65536))
            (loop $forever
              (drop (call $fd_write (i32.load (i32.const 200)) (i32.const 0) (i32.const 1) (i32.const 8)))
              (br $forever))
            (i32.const 0)))
        """;

    /// <summary>"run" reports 0.25 and 0.5 and returns; "halfway" reports 0.5 and spins.</summary>
    public const string Progress = """
        (module
          (import "tenzro" "progress" (func $progress (param f64)))
          (func (export "run") (result i32)
            (call $progress (f64.const 0.25))
            (call $progress (f64.const 0.5))
            (i32.const 1))
          (func (export "halfway") (call $progress (f64.const 0.5)) (loop br 0)))
        """;

    /// <summary>The binary of <see cref="Add"/>.</summary>
    public static byte[] AddBinary() => Wasmtime.Module.ConvertText(Add);
}
