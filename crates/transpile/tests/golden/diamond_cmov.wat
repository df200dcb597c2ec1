(module
  (type (;0;) (func (param i64 i64 i64 i64) (result i64 i64)))
  (type (;1;) (func (param i64 i64) (result i64)))
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
  (func (;0;) (type 0) (param i64 i64 i64 i64) (result i64 i64)
    (local i64 i64 i64 i32)
    block ;; label = @1
      local.get 3
      local.get 2
      i64.gt_s
      if ;; label = @2
        local.get 3
        local.set 0
        br 1 (;@1;)
      else
        local.get 2
        local.set 0
        br 1 (;@1;)
      end
    end
    local.get 3
    local.get 0
    local.get 0
    i64.const 63
    i64.shr_u
    i32.wrap_i64
    select
    local.set 0
    local.get 1
    i64.const 8
    i64.add
    local.set 1
    local.get 0
    local.get 1
    return
    unreachable
  )
  (func (;1;) (type 1) (param i64 i64) (result i64)
    (local i64 i64 i64)
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
    local.get 1
    local.get 0
    call 0
    local.set 3
    local.set 2
    local.get 3
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
    local.get 2
  )
  (data (;0;) (i32.const 4160) "@\10\00\00\00\00\00\00\00\00\00\00\00\00\00\00@\10\00\00\00\00\00\00")
)
