; No action puts a bowl into anything or stacks onto a block in a bowl: b1 must be in
; the bowl and have b2 on it at once, which the domain never allows. The relaxation
; cannot see that (it ignores deletes), so the search has to exhaust the state space.
(define (problem pick-place-unsolvable)
  (:domain pick-place)
  (:objects b1 b2 - block green - bowl)
  (:init (handempty) (on b1 table) (clear b1) (on b2 table) (clear b2))
  (:goal (and (in b1 green) (on b2 b1))))
