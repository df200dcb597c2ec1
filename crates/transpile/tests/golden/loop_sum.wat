(module
  (type (;0;) (func (param i64 i64 i64) (result i64 i64 i64)))
  (type (;1;) (func (param i32) (result i64)))
  (memory (;0;) 131 65536)
  (global (;0;) (mut i32) i32.const 8393104)
  (global (;1;) i32 i32.const 8393104)
  (global (;2;) (mut i32) i32.const 8519680)
  (global (;3;) (mut i32) i32.const 0)
  (global (;4;) i32 i32.const 4160)
  (export "memory" (memory 0))
  (export "__stack_pointer" (global 0))
  (export "__heap_base" (global 1))
  (export "__malloc_base" (global 2))
  (export "f" (func 1))
  (func (;0;) (type 0) (param i64 i64 i64) (result i64 i64 i64)
    (local i64 i64 i64 i32)
    block ;; label = @1
      i64.const 0
      local.set 0
      local.get 2
      i32.wrap_i64
      i32.eqz
      if ;; label = @2
        br 1 (;@1;)
      else
        loop ;; label = @3
          local.get 0
          local.get 2
          i64.add
          local.set 0
          local.get 2
          i32.wrap_i64
          i64.extend_i32_u
          local.tee 3
          i64.const 1
          i64.sub
          i64.const 4294967295
          i64.and
          local.tee 5
          local.set 2
          local.get 5
          i64.eqz
          i32.eqz
          if ;; label = @4
            br 1 (;@3;)
          else
            br 3 (;@1;)
          end
        end
      end
    end
    local.get 1
    i64.const 8
    i64.add
    local.set 1
    local.get 0
    local.get 1
    local.get 2
    return
    unreachable
  )
  (func (;1;) (type 1) (param i32) (result i64)
    (local i64 i64 i64 i64)
    global.get 0
    i64.extend_i32_u
    i64.const 8
    i64.sub
    local.tee 4
    i32.wrap_i64
    i64.const 0
    i64.store align=1
    i64.const 0
    local.get 4
    local.get 0
    i64.extend_i32_u
    call 0
    local.set 3
    local.set 2
    local.set 1
    local.get 2
    local.get 4
    i64.const 8
    i64.add
    i64.ne
    local.get 4
    i32.wrap_i64
    i64.load align=1
    i64.const 0
    i64.ne
    i32.or
    if ;; label = @1
      unreachable
    end
    local.get 1
  )
  (data (;0;) (i32.const 4160) "@\10\00\00\00\00\00\00\00\00\00\00\00\00\00\00@\10\00\00\00\00\00\00")
)
