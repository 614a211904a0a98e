; The Sussman anomaly: C is on A; build the tower A on B on C. Working on one goal at a
; time undoes the other; the shortest plan has 6 actions.
(define (problem sussman)
  (:domain blocksworld)
  (:objects a b c)
  (:init (ontable a) (ontable b) (on c a) (clear c) (clear b) (handempty))
  (:goal (and (on a b) (on b c))))
