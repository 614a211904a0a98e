; Ten blocks in three towers (bottom to top: d c b a, f e, g h i j) rebuilt as one tower
; (bottom to top: e g i c d h b f j a).
(define (problem blocksworld-10)
  (:domain blocksworld)
  (:objects a b c d e f g h i j)
  (:init (handempty)
         (ontable d) (on c d) (on b c) (on a b) (clear a)
         (ontable f) (on e f) (clear e)
         (ontable g) (on h g) (on i h) (on j i) (clear j))
  (:goal (and (on a j) (on j f) (on f b) (on b h) (on h d) (on d c) (on c i) (on i g)
              (on g e))))
