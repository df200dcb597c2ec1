(module
  (type (;0;) (func (param i64 i64 i64 i64) (result i64 i64)))
  (type (;1;) (func (param i64 i64) (result i64)))
  (type (;2;) (func (param i64 i64 i64) (result i64 i64)))
  (memory (;0;) 18 65536)
  (global (;0;) (mut i32) i32.const 1052688)
  (global (;1;) i32 i32.const 1052688)
  (export "memory" (memory 0))
  (export "__stack_pointer" (global 0))
  (export "__heap_base" (global 1))
  (export "f" (func 4))
  (func (;0;) (type 0) (param i64 i64 i64 i64) (result i64 i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i32 i32 i32 i32 i32 i64 i64 i64 i32 i64 i64 i64 i64 i64 i64 i32 i32 i32 i32 i64 i32)
    i64.const 8
    local.get 3
    i64.add
    local.get 2
    i64.const 2
    i64.shl
    i64.add
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
    (local i64 i64 i64 i64 i64 i64 i64)
    local.get 0
    i64.const 4294967295
    i64.and
    local.set 2
    local.get 0
    i64.const 32
    i64.shr_u
    local.set 3
    local.get 1
    i64.const 4294967295
    i64.and
    local.set 4
    local.get 1
    i64.const 32
    i64.shr_u
    local.set 5
    local.get 2
    local.get 5
    i64.mul
    local.set 6
    local.get 3
    local.get 4
    i64.mul
    local.set 7
    local.get 2
    local.get 4
    i64.mul
    i64.const 32
    i64.shr_u
    local.get 6
    i64.const 4294967295
    i64.and
    i64.add
    local.get 7
    i64.const 4294967295
    i64.and
    i64.add
    local.set 8
    local.get 3
    local.get 5
    i64.mul
    local.get 6
    i64.const 32
    i64.shr_u
    i64.add
    local.get 7
    i64.const 32
    i64.shr_u
    i64.add
    local.get 8
    i64.const 32
    i64.shr_u
    i64.add
  )
  (func (;2;) (type 2) (param i64 i64 i64) (result i64 i64)
    (local i64 i64)
    local.get 2
    i64.eqz
    local.get 0
    local.get 2
    i64.ge_u
    i32.or
    if ;; label = @1
      unreachable
    end
    local.get 0
    i64.eqz
    if ;; label = @1
      local.get 1
      local.get 2
      i64.div_u
      local.get 1
      local.get 2
      i64.rem_u
      return
    end
    i64.const 64
    local.set 3
    loop ;; label = @1
      local.get 0
      i64.const 63
      i64.shr_u
      local.set 4
      local.get 0
      i64.const 1
      i64.shl
      local.get 1
      i64.const 63
      i64.shr_u
      i64.or
      local.set 0
      local.get 1
      i64.const 1
      i64.shl
      local.set 1
      local.get 4
      i64.eqz
      i32.eqz
      local.get 0
      local.get 2
      i64.ge_u
      i32.or
      if ;; label = @2
        local.get 0
        local.get 2
        i64.sub
        local.set 0
        local.get 1
        i64.const 1
        i64.or
        local.set 1
      end
      local.get 3
      i64.const 1
      i64.sub
      local.tee 3
      i64.eqz
      i32.eqz
      br_if 0 (;@1;)
    end
    local.get 1
    local.get 0
  )
  (func (;3;) (type 2) (param i64 i64 i64) (result i64 i64)
    (local i32 i32 i64 i64)
    local.get 0
    local.get 1
    i64.const 63
    i64.shr_s
    i64.eq
    if ;; label = @1
      local.get 1
      local.get 2
      i64.div_s
      local.get 1
      local.get 2
      i64.rem_s
      return
    end
    local.get 0
    i64.const 0
    i64.lt_s
    local.set 3
    local.get 2
    i64.const 0
    i64.lt_s
    local.set 4
    local.get 3
    if ;; label = @1
      local.get 0
      i64.const -1
      i64.xor
      local.get 1
      i64.eqz
      i64.extend_i32_u
      i64.add
      local.set 0
      i64.const 0
      local.get 1
      i64.sub
      local.set 1
    end
    local.get 4
    if ;; label = @1
      i64.const 0
      local.get 2
      i64.sub
      local.set 2
    end
    local.get 0
    local.get 1
    local.get 2
    call 2
    local.set 6
    local.set 5
    local.get 3
    local.get 4
    i32.xor
    if ;; label = @1
      local.get 5
      i64.const -9223372036854775808
      i64.gt_u
      if ;; label = @2
        unreachable
      end
      i64.const 0
      local.get 5
      i64.sub
      local.set 5
    else
      local.get 5
      i64.const 0
      i64.lt_s
      if ;; label = @2
        unreachable
      end
    end
    local.get 3
    if ;; label = @1
      i64.const 0
      local.get 6
      i64.sub
      local.set 6
    end
    local.get 5
    local.get 6
  )
  (func (;4;) (type 1) (param i64 i64) (result i64)
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
    local.get 2
  )
)
